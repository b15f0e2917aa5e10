"""The delivery log lists one merchant's webhook deliveries newest first: an index range scan
of (merchant_id, id) instead of a sort of all the merchant's rows."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("portal", "0004_idempotency"), ("outbox", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS portal_delivery_recent_idx "
            "ON outbox_delivery (merchant_id, id)",
            "DROP INDEX IF EXISTS portal_delivery_recent_idx",
        ),
    ]

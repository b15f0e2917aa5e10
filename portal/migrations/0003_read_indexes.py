"""Indexes for the portal's reads of domain tables.

The dashboard's windows and the purchase list scan purchases of one merchant by time; at a
merchant with a million purchases that must be an index range scan. The index is the portal's
need, so it is created here (plain SQL both PostgreSQL and SQLite accept). On a large live table
create it by hand first with ``CREATE INDEX CONCURRENTLY`` under the same name; this migration
then finds it (``IF NOT EXISTS``).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_roles_sessions_audit"), ("loyalty", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS portal_purchase_recent_idx "
            "ON loyalty_purchase (merchant_id, created_at)",
            "DROP INDEX IF EXISTS portal_purchase_recent_idx",
        ),
    ]

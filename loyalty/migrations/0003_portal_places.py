from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0002_expiry_reminders"),
    ]

    operations = [
        migrations.AddField(
            model_name=name,
            name="is_active",
            field=models.BooleanField(default=True),
        )
        for name in ("outlet", "device", "manager")
    ]

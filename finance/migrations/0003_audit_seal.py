from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("finance", "0002_webhooks")]

    operations = []

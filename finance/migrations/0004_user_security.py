from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("finance", "0003_audit_seal")]

    operations = []

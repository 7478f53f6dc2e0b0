from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("finance", "0004_user_security")]

    operations = []

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("credit", "0001_initial")]

    operations = []

from django.db import migrations


def forwards(apps, schema_editor):
    from pbqms.records.builtin import ensure

    ensure(apps.get_model("records", "RecordTemplate"))


class Migration(migrations.Migration):
    dependencies = [("records", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

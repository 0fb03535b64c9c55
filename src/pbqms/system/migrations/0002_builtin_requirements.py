from django.db import migrations


def forwards(apps, schema_editor):
    from pbqms.system.builtin import ensure_builtin_requirements

    ensure_builtin_requirements(apps.get_model("system", "Requirement"))


class Migration(migrations.Migration):
    dependencies = [("system", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

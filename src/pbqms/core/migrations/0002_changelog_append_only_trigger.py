"""On PostgreSQL, a trigger refuses UPDATE and DELETE of change-log rows (SECURITY.md item 9).
On SQLite the application refuses them (the model and queryset raise)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION pbqms_changelog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'pbqms change log is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS pbqms_changelog_append_only ON core_changelogentry;
CREATE TRIGGER pbqms_changelog_append_only
    BEFORE UPDATE OR DELETE ON core_changelogentry
    FOR EACH ROW EXECUTE FUNCTION pbqms_changelog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS pbqms_changelog_append_only ON core_changelogentry;
DROP FUNCTION IF EXISTS pbqms_changelog_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]

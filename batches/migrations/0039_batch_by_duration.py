"""On PostgreSQL, the batch list's "longest first" order (`sort=-duration`) as an index, in that exact order, so a
page of it reads 50 entries: at a million batches the sort read every batch (1.4x the admin changelist).

SQLite cannot index `NULLS LAST` (and its lists are small): nothing there. Building the index reads the batches
once (seconds at a million) and holds writes to them meanwhile.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS batch_by_duration ON batches_batch "
    "((ended_at - created_at) DESC NULLS LAST, created_at DESC, id DESC)"
)
DROP = "DROP INDEX IF EXISTS batch_by_duration"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0038_result_not_whole"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]

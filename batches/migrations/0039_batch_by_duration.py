"""On PostgreSQL, the batch list's "longest first" order (`sort=-duration`) as an index, in that exact order, so a
page of it reads 50 entries: at a million batches the sort read every batch (1.4x the admin changelist).

SQLite cannot index `NULLS LAST` (and its lists are small): nothing there. Building the index reads the batches
once (seconds at a million) and holds writes to them meanwhile.
"""

from django.db import migrations

from batches.migrations._postgresql import on_postgresql

CREATE = (
    "CREATE INDEX IF NOT EXISTS batch_by_duration ON batches_batch "
    "((ended_at - created_at) DESC NULLS LAST, created_at DESC, id DESC)"
)
DROP = "DROP INDEX IF EXISTS batch_by_duration"


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0038_result_not_whole"),
    ]

    operations = [on_postgresql([CREATE], [DROP])]

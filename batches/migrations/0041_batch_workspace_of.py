"""On PostgreSQL, each batch's workspace beside its id, in an index: a retry plan across a workspace looks up the batch
of each result that is not whole, and reads its workspace from the index alone, not the batch's row.

At a million batches the plan hashed every batch of the workspace (a third of them, 162 ms of a 230 ms query) to
join some 51,000 results; with this index PostgreSQL looks each result's batch up instead (79 ms). Neither column
ever changes, so updates of a batch stay HOT. SQLite's plans differ (and its tables are small): nothing there.
"""

from django.db import migrations

from batches.migrations._postgresql import on_postgresql

CREATE = "CREATE INDEX IF NOT EXISTS batch_workspace_of ON batches_batch (id) INCLUDE (workspace_id)"
DROP = "DROP INDEX IF EXISTS batch_workspace_of"


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0040_batch_tally"),
    ]

    operations = [on_postgresql([CREATE], [DROP])]

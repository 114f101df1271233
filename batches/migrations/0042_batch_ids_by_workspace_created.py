"""On PostgreSQL, the ids of a workspace's batches in creation order, in an index: the errors page of one workspace
over a span reads the batches of that workspace in the span from the index alone.

At a million batches it read every batch created in the span, whatever its workspace (514,000 index entries), to
join one workspace's error counts: 120-160 ms of SQL; 60 ms with this index and the workspace said of the batch too
(dashboard/queries.py). Neither column changes after a batch's creation, so its updates stay HOT.
"""

from django.db import migrations

from batches.migrations._postgresql import on_postgresql

CREATE = (
    "CREATE INDEX IF NOT EXISTS batch_ids_by_workspace_created ON batches_batch (workspace_id, created_at) INCLUDE (id)"
)
DROP = "DROP INDEX IF EXISTS batch_ids_by_workspace_created"


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0041_batch_workspace_of"),
    ]

    operations = [on_postgresql([CREATE], [DROP])]

"""On PostgreSQL, the trigram index for searching part of a batch id is on UPPER(id), no longer on id itself.

pg_trgm's GIN index answers equality too (pg_trgm 1.6, PostgreSQL 14), and the planner preferred it for every
`id IN (...)` of a hundred ids: an ingest group's claim, its release, a bulk action. Every batch id starts with
"msgbatch_", so each of those ids read the posting lists of every batch: 600 ms for 100 ids among 1,000 batches,
with or without statistics, where the primary key answers in under a millisecond. An index on UPPER(id) serves
only what asks for UPPER(id): the search asks for it (case-insensitive, then exact: dashboard/forms/filters.py).
Built CONCURRENTLY, so upgrading a large database does not stop the sync while it builds.
"""

from django.db import migrations

from batches.migrations._postgresql import on_postgresql

CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS batch_id_upper_trgm ON batches_batch USING gin (UPPER(id) gin_trgm_ops)"
)
DROP_OLD = "DROP INDEX CONCURRENTLY IF EXISTS batch_id_trgm"
CREATE_OLD = "CREATE INDEX CONCURRENTLY IF NOT EXISTS batch_id_trgm ON batches_batch USING gin (id gin_trgm_ops)"
DROP = "DROP INDEX CONCURRENTLY IF EXISTS batch_id_upper_trgm"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("batches", "0042_batch_ids_by_workspace_created"),
    ]

    operations = [on_postgresql([CREATE, DROP_OLD], [CREATE_OLD, DROP])]

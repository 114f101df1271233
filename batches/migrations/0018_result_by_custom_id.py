"""An index on results' custom_id alone, for the batch list's search by an item's custom_id.

The unique (batch, custom_id) index cannot answer "which batch holds this custom_id?" without reading every
result (1,000,000 rows: 0.3 s a search). On PostgreSQL a hash index: it holds a 4-byte hash per row, which
costs ingest less than a B-tree of the whole string, and the search is by exact custom_id only. Built
CONCURRENTLY, so upgrading a large database does not stop ingest while it builds.
"""

from django.db import migrations

from batches.migrations._postgresql import hash_index


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("batches", "0017_workspace_access")]

    operations = [hash_index("result_by_custom_id", "batches_result", "custom_id")]

"""Trigram indexes for the batch list's search, on PostgreSQL only (a no-op elsewhere).

The search matches part of a batch id (`id LIKE '%q%'`) or of a label (`UPPER(label) LIKE UPPER('%q%')`): no
B-tree serves a pattern with a leading wildcard, so each search scanned every batch. pg_trgm's GIN indexes serve
both (dashboard/forms/filters.py asks for each part apart, so each reads its own index). pg_trgm is a trusted
extension (PostgreSQL 13+): the owner of the database may create it. The indexes are built CONCURRENTLY, so
upgrading a large database does not stop the sync while they build.
"""

from django.db import migrations

INDEXES = {
    "batch_id_trgm": "USING gin (id gin_trgm_ops)",
    "batch_label_trgm": "USING gin (UPPER(label) gin_trgm_ops)",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON batches_batch {definition}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("batches", "0031_i24_result_partial_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]

"""The item table's two indexes by type, kept for the rows that are not succeeded only.

Every index a row updates is COPY time: the two full indexes by (batch, result_type, custom_id) and
(batch, error_type, custom_id) were about half of a 100,000-result ingest (bench/ingest.py). The tabs they
serve (errored, expired, canceled, an error type) name rows that are few; a succeeded row, most of a batch,
now updates neither. The new indexes are built CONCURRENTLY before the old are dropped, so the pages keep an
index throughout and upgrading a large database does not stop ingest while they build.
"""

from django.db import migrations, models

NEW = {
    "result_failed_by_type": "(batch_id, result_type, custom_id) WHERE NOT (result_type = 'succeeded')",
    "result_error_by_type": "(batch_id, error_type, custom_id) WHERE NOT (error_type = '')",
}
OLD = {
    "result_by_type": "(batch_id, result_type, custom_id)",
    "result_by_error_type": "(batch_id, error_type, custom_id)",
}


def _swap(schema_editor, create: dict[str, str], drop: dict[str, str]) -> None:
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, definition in create.items():
        schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON batches_result {definition}")
    for name in drop:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


def forwards(apps, schema_editor):
    _swap(schema_editor, NEW, OLD)


def backwards(apps, schema_editor):
    _swap(schema_editor, OLD, NEW)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("batches", "0030_i23_admin_role_sso")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards, elidable=False)],
            state_operations=[
                migrations.RemoveIndex(model_name="result", name="result_by_type"),
                migrations.RemoveIndex(model_name="result", name="result_by_error_type"),
                migrations.AddIndex(
                    model_name="result",
                    index=models.Index(
                        condition=models.Q(("result_type", "succeeded"), _negated=True),
                        fields=["batch", "result_type", "custom_id"],
                        name="result_failed_by_type",
                    ),
                ),
                migrations.AddIndex(
                    model_name="result",
                    index=models.Index(
                        condition=models.Q(("error_type", ""), _negated=True),
                        fields=["batch", "error_type", "custom_id"],
                        name="result_error_by_type",
                    ),
                ),
            ],
        )
    ]

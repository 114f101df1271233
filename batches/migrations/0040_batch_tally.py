"""The batch tally (batches/models/tally.py): its table here; its triggers and first count are made by
`batches.services.tally.install` after every migrate (batches/apps.py), which also mends them after a later
migration rebuilds the batches table on SQLite."""

from django.db import migrations, models


def drop_triggers(apps, schema_editor):
    """Back to before the tally: its triggers go with it, or every write to a batch would fail."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS batch_tally_insert_delete ON batches_batch")
        schema_editor.execute("DROP TRIGGER IF EXISTS batch_tally_update ON batches_batch")
        schema_editor.execute("DROP FUNCTION IF EXISTS batches_batch_tally()")
    else:
        for name in ("batch_tally_insert", "batch_tally_delete", "batch_tally_update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0039_batch_by_duration"),
    ]

    operations = [
        migrations.CreateModel(
            name="BatchTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("workspace_id", models.BigIntegerField()),
                ("processing_status", models.CharField(max_length=16)),
                ("has_errors", models.BooleanField()),
                ("has_failed", models.BooleanField()),
                ("n", models.IntegerField()),
            ],
        ),
        migrations.RunPython(migrations.RunPython.noop, drop_triggers),
    ]

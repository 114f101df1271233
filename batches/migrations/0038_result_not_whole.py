"""What a retry reads: the results that are not whole answers, in an index with every column it classifies them by;
and on PostgreSQL, statistics of those columns together, so the planner knows how many a kind selects."""

from django.db import migrations, models

from batches.migrations._postgresql import on_postgresql

# Without them PostgreSQL multiplies the selectivity of each column's test and guessed 37 of 24,179 rows for a
# workspace's retryable results: a nested loop over every batch (an MCV list judges the ORs of the three at once).
CREATE = (
    "CREATE STATISTICS IF NOT EXISTS result_kind_mcv (mcv) ON result_type, error_type, stop_reason FROM batches_result"
)
DROP = "DROP STATISTICS IF EXISTS result_kind_mcv"


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0037_daily_usage"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="result",
            index=models.Index(
                condition=models.Q(
                    ("result_type", "succeeded"),
                    models.Q(
                        ("stop_reason__in", ("max_tokens", "model_context_window_exceeded", "pause_turn", "refusal")),
                        _negated=True,
                    ),
                    _negated=True,
                ),
                fields=["batch", "custom_id"],
                include=("id", "result_type", "error_type", "stop_reason"),
                name="result_not_whole",
            ),
        ),
        on_postgresql([CREATE, "ANALYZE batches_result"], [DROP]),
    ]

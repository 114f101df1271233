"""The batch tally's triggers, its re-count, and its compaction (batches/models/tally.py says what it is).

`install` runs after every `migrate` (batches/apps.py): it (re)creates the triggers and counts the tally afresh
under a lock that holds writes to batches meanwhile. That also mends what migrations do not see: on SQLite a
migration that alters `batches_batch` rebuilds the table and drops its triggers, and a test database's flush
may empty the tally before the batches whose deletes it then records. `compact` folds the tally's rows into one
per key; beat runs it every minute (batches/tasks.py), and readers are exact whether it has run or not.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from batches.models import BatchTally

_KEY = "workspace_id, processing_status, has_errors, has_failed"
_TALLY = BatchTally._meta.db_table


def _key_of(row: str) -> str:
    """The tally key's values for `row` (NEW or OLD, or the batches table itself), in `_KEY`'s order."""
    prefix = f"{row}." if row else ""
    return (
        f"{prefix}workspace_id, {prefix}processing_status, "
        f"({prefix}errored_count > 0 OR {prefix}malformed_count > 0), "
        f"({prefix}errored_count > 0 OR {prefix}expired_count > 0 OR {prefix}canceled_count > 0)"
    )


def _moved(old: str, new: str, distinct: str) -> str:
    """True when an update moves a batch to another key: only those add rows."""
    olds, news = _key_of(old).split(", "), _key_of(new).split(", ")
    return " OR ".join(f"{a} {distinct} {b}" for a, b in zip(olds, news, strict=True))


_COLUMNS = "workspace_id, processing_status, errored_count, malformed_count, expired_count, canceled_count"

_POSTGRESQL = [
    "DROP TRIGGER IF EXISTS batch_tally_insert_delete ON batches_batch",
    "DROP TRIGGER IF EXISTS batch_tally_update ON batches_batch",
    f"""CREATE OR REPLACE FUNCTION batches_batch_tally() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO {_TALLY} ({_KEY}, n) VALUES ({_key_of("OLD")}, -1);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO {_TALLY} ({_KEY}, n) VALUES ({_key_of("NEW")}, 1);
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER batch_tally_insert_delete AFTER INSERT OR DELETE ON batches_batch "
    "FOR EACH ROW EXECUTE FUNCTION batches_batch_tally()",
    f"CREATE TRIGGER batch_tally_update AFTER UPDATE OF {_COLUMNS} ON batches_batch "
    f"FOR EACH ROW WHEN ({_moved('OLD', 'NEW', 'IS DISTINCT FROM')}) EXECUTE FUNCTION batches_batch_tally()",
]

_SQLITE = [
    "DROP TRIGGER IF EXISTS batch_tally_insert",
    "DROP TRIGGER IF EXISTS batch_tally_delete",
    "DROP TRIGGER IF EXISTS batch_tally_update",
    f"CREATE TRIGGER batch_tally_insert AFTER INSERT ON batches_batch BEGIN "
    f"INSERT INTO {_TALLY} ({_KEY}, n) VALUES ({_key_of('NEW')}, 1); END",
    f"CREATE TRIGGER batch_tally_delete AFTER DELETE ON batches_batch BEGIN "
    f"INSERT INTO {_TALLY} ({_KEY}, n) VALUES ({_key_of('OLD')}, -1); END",
    f"CREATE TRIGGER batch_tally_update AFTER UPDATE OF {_COLUMNS} ON batches_batch "
    f"WHEN {_moved('OLD', 'NEW', 'IS NOT')} BEGIN "
    f"INSERT INTO {_TALLY} ({_KEY}, n) VALUES ({_key_of('OLD')}, -1); "
    f"INSERT INTO {_TALLY} ({_KEY}, n) VALUES ({_key_of('NEW')}, 1); END",
]

_RECOUNT = [
    f"DELETE FROM {_TALLY}",
    f"INSERT INTO {_TALLY} ({_KEY}, n) SELECT {_key_of('')}, COUNT(*) FROM batches_batch GROUP BY 1, 2, 3, 4",
]


def install(using: str = DEFAULT_DB_ALIAS) -> None:
    """The triggers in place and the tally counted afresh, in one transaction; idempotent. Nothing while the
    tables are not there (a migrate back to before them)."""
    connection = connections[using]
    if not {_TALLY, "batches_batch"} <= set(connection.introspection.table_names()):
        return
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if postgresql:
            # Writers wait meanwhile (readers do not), so no write lands between the re-count and the triggers.
            cursor.execute("LOCK TABLE batches_batch IN SHARE ROW EXCLUSIVE MODE")
        for statement in (_POSTGRESQL if postgresql else _SQLITE) + _RECOUNT:
            cursor.execute(statement)


def compact() -> int:
    """Fold the tally's rows into one per key (none where the key sums to 0); returns the rows folded.

    The rows are taken by one DELETE … RETURNING, so a row a writer adds meanwhile is either taken and summed
    or left for next time, never lost; a reader sees the rows before or after, which sum the same.
    """
    with transaction.atomic(), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(f"DELETE FROM {_TALLY} RETURNING {_KEY}, n")
        rows = cursor.fetchall()
        sums: dict[tuple, int] = defaultdict(int)
        for *key, n in rows:
            sums[(key[0], key[1], bool(key[2]), bool(key[3]))] += n
        BatchTally.objects.bulk_create(
            BatchTally(workspace_id=w, processing_status=s, has_errors=e, has_failed=f, n=n)
            for (w, s, e, f), n in sums.items()
            if n
        )
    return len(rows)

"""What only PostgreSQL takes (an index in an order SQLite cannot express, INCLUDE columns, extended statistics),
as a migration operation that runs its SQL there and nothing on SQLite, whose plans differ and whose tables are
small. (The leading underscore keeps Django's migration loader from reading this module as a migration.)"""

from django.db import migrations


def on_postgresql(forwards: list[str], backwards: list[str]) -> migrations.RunPython:
    return migrations.RunPython(_statements(forwards), _statements(backwards))


def _statements(sql: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in sql:
                schema_editor.execute(statement)

    return run


def hash_index(name: str, table: str, column: str) -> migrations.RunPython:
    """An index for lookups by exact value: a hash index on PostgreSQL (a 4-byte hash a row, cheaper to write than a
    B-tree of the whole string), built CONCURRENTLY so an upgrade does not stop writes to the table while it builds
    (the migration must be `atomic = False`); a plain index on SQLite."""

    def create(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING hash ({column})")
        else:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")

    def drop(apps, schema_editor) -> None:
        concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")

    return migrations.RunPython(create, drop, elidable=False)

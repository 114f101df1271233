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

from django.db import migrations


def sync_roles(apps, schema_editor):
    """The Admin role now holds what its table says: prices and budgets, batch labels, results (batches/roles.py)."""
    from batches.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("batches", "0012_batch_size_and_model")]
    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]

from django.db import migrations


def sync_roles(apps, schema_editor):
    """The Admin role now keeps the SSO role rules and reads the sign-in history (batches/roles.py)."""
    from batches.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("batches", "0029_i18_price_missing_and_cost_parts")]
    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]

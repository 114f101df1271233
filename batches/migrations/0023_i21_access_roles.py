"""A workspace grant holds a list of roles instead of one: each row's role becomes a list of one."""

from django.db import migrations, models

import batches.models.workspace_access


def one_role_to_list(apps, schema_editor):
    WorkspaceAccess = apps.get_model("batches", "WorkspaceAccess")
    for access in WorkspaceAccess.objects.all():
        access.roles = [access.role]
        access.save(update_fields=["roles"])


def list_to_one_role(apps, schema_editor):
    # Back to one role: the most capable of the list (Admin > Operator/Auditor > Viewer), never more.
    order = ["Admin", "Operator", "Auditor", "Viewer"]
    WorkspaceAccess = apps.get_model("batches", "WorkspaceAccess")
    for access in WorkspaceAccess.objects.all():
        access.role = next((r for r in order if r in access.roles), "Viewer")
        access.save(update_fields=["role"])


class Migration(migrations.Migration):
    dependencies = [("batches", "0022_i19_result_fields_incomplete_betas")]

    operations = [
        migrations.AddField(
            model_name="workspaceaccess",
            name="roles",
            field=models.JSONField(default=list, validators=[batches.models.workspace_access.validate_roles]),
        ),
        migrations.RunPython(one_role_to_list, list_to_one_role),
        migrations.RemoveField(model_name="workspaceaccess", name="role"),
    ]

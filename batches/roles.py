"""The roles, as Django groups: what each may do. A migration creates them; Admins assign users.

Enforced by the server on every request (dashboard/access.py); templates only hide what a user
may not use. Who may export: anyone who may view batches downloads their results (operations staff
keep results before the API deletes them); the spend CSV goes with the spend page (view_spend), the
audit CSV with the audit log (view_audit_log). There is no separate export permission.
"""

VIEW = "view_batch"
ROLES: dict[str, list[str]] = {
    "Viewer": [VIEW],
    "Operator": [VIEW, "cancel_batch", "submit_batch", "retry_results", "attach_inputs"],
    "Auditor": [VIEW, "view_spend", "view_audit_log"],
    "Admin": [
        VIEW, "cancel_batch", "submit_batch", "retry_results", "attach_inputs", "view_spend", "view_audit_log",
        "add_workspace", "change_workspace", "delete_workspace", "view_workspace",
        "add_price", "change_price", "delete_price", "view_price",
        "add_budget", "change_budget", "delete_budget", "view_budget",
        "change_batch", "view_result",
        "add_user", "change_user", "view_user", "view_group", "manage_notifications",
        "add_workspaceaccess", "change_workspaceaccess", "delete_workspaceaccess", "view_workspaceaccess",
        # django-axes: see who is locked out, and unlock them by deleting their failed attempts.
        "view_accessattempt", "delete_accessattempt", "view_accesslog",
        # Single sign-on: role rules, the roles SSO gave, the sign-in history (the IdPs' secrets: superusers only).
        "add_ssorolerule", "change_ssorolerule", "delete_ssorolerule", "view_ssorolerule",
        "view_ssogrant", "view_signin",
    ],
}  # fmt: skip
APP_LABELS = ("batches", "auth", "axes")  # where the permissions above are defined
# What a role may do within one workspace when a user is given that workspace alone (models/access.py): the
# roles' permissions over batches and their figures, never the site's administration (workspaces, users,
# prices), which stays with users of the Admin group.
WORKSPACE_SCOPED = frozenset(
    {VIEW, "cancel_batch", "submit_batch", "retry_results", "attach_inputs", "view_spend", "view_audit_log"}
)
WORKSPACE_ROLES = {role: frozenset(codenames) & WORKSPACE_SCOPED for role, codenames in ROLES.items()}


def sync_role_groups(apps) -> None:
    """Create or update the groups to hold exactly their permissions. Safe to run again."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrations (post_migrate); make them now. A migration's
    # app configs are stubs, which create_permissions skips unless they claim a models module.
    for app_label in APP_LABELS:
        try:
            app_config = apps.get_app_config(app_label)
        except LookupError:  # an early migration runs before axes' own: a later one syncs again
            continue
        # Restore what was there: on the real app registry, None would stop Django from ever
        # creating these permissions again after a flush.
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = Permission.objects.filter(codename__in=codenames, content_type__app_label__in=APP_LABELS)
        group.permissions.set(perms)

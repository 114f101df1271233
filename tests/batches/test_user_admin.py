"""Users and groups in the real admin pages: no escalation by an Admin, every change on the audit log."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.forms import SplitDateTimeWidget
from django.test import Client

from batches.models import AuditEvent


def _perm(app_label: str, codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@pytest.fixture
def lead(make_user):
    """An Admin: staff, in the Admin group, not a superuser."""
    user = make_user("lead", "Admin")
    User.objects.filter(pk=user.pk).update(is_staff=True)
    return User.objects.get(pk=user.pk)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def lead_client(lead):
    return _client(lead)


@pytest.fixture
def root_client(db):
    return _client(User.objects.create_superuser("root", "", "pw-root-irrelevant"))


def _change(client: Client, user: User, **changes):
    """Post the user's change form as the page renders it, with `changes` applied."""
    url = f"/admin/auth/user/{user.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, SplitDateTimeWidget):
            data[f"{name}_0"], data[f"{name}_1"] = (f"{value:%Y-%m-%d}", f"{value:%H:%M:%S}") if value else ("", "")
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):  # a browser posts only what the widget offered
            offered = set(field.queryset.values_list("pk", flat=True))
            data[name] = [pk for pk in (getattr(v, "pk", v) for v in value) if pk in offered]
        elif value is not None:
            data[name] = value
    for inline in page.context["inline_admin_formsets"]:  # the workspaces given, as rendered
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for form in formset.forms:
            data.update({form.add_prefix(k): getattr(v, "pk", v) for k, v in form.initial.items() if v is not None})
            data[form.add_prefix("id")] = form.instance.pk or ""
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return client.post(url, data)


def test_an_admin_cannot_make_anyone_superuser_or_staff(lead_client, lead, viewer):
    for target in (viewer, lead):
        response = _change(lead_client, target, is_superuser=True, is_staff=True)
        assert response.status_code == 302  # saved, without the fields it may not set
        target.refresh_from_db()
        assert not target.is_superuser and target.is_staff == (target == lead)


def test_a_superuser_can(root_client, viewer):
    assert _change(root_client, viewer, is_superuser=True, is_staff=True).status_code == 302
    viewer.refresh_from_db()
    assert viewer.is_superuser and viewer.is_staff


def test_an_admin_grants_only_permissions_it_holds(lead_client, viewer):
    beyond = _perm("auth", "delete_user")
    response = _change(lead_client, viewer, user_permissions=[beyond.pk])
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not viewer.user_permissions.exists()
    held = _perm("batches", "cancel_batch")
    assert _change(lead_client, viewer, user_permissions=[held.pk]).status_code == 302
    assert list(viewer.user_permissions.all()) == [held]


def test_an_admin_adds_only_to_groups_within_its_own_permissions(lead_client, viewer):
    danger = Group.objects.create(name="Danger")
    danger.permissions.add(_perm("auth", "delete_user"))
    operator = Group.objects.get(name="Operator")
    response = _change(lead_client, viewer, groups=[danger.pk])
    assert response.status_code == 200 and not viewer.groups.filter(name="Danger").exists()
    assert _change(lead_client, viewer, groups=[operator.pk]).status_code == 302
    assert set(viewer.groups.values_list("name", flat=True)) == {"Operator"}


def test_what_an_admin_cannot_grant_is_kept_when_it_saves_a_user(lead_client, viewer):
    kept = _perm("auth", "delete_user")
    viewer.user_permissions.add(kept)
    danger = Group.objects.create(name="Danger")
    danger.permissions.add(kept)
    viewer.groups.add(danger)
    assert _change(lead_client, viewer, first_name="Vi").status_code == 302
    viewer.refresh_from_db()
    assert viewer.first_name == "Vi" and kept in viewer.user_permissions.all()
    assert set(viewer.groups.values_list("name", flat=True)) == {"Viewer", "Danger"}


def test_an_admin_cannot_change_delete_or_reset_a_superuser(lead_client):
    boss = User.objects.create_superuser("boss", "", "pw-boss-irrelevant")
    page = lead_client.get(f"/admin/auth/user/{boss.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # view only
    assert lead_client.post(f"/admin/auth/user/{boss.pk}/change/", {"username": "boss2"}).status_code == 403
    assert lead_client.post(f"/admin/auth/user/{boss.pk}/delete/", {"post": "yes"}).status_code == 403
    response = lead_client.post(f"/admin/auth/user/{boss.pk}/password/",
                                {"password1": "Taken-Over-2026!", "password2": "Taken-Over-2026!"})  # fmt: skip
    assert response.status_code == 403
    boss.refresh_from_db()
    assert boss.username == "boss" and boss.check_password("pw-boss-irrelevant")


def test_user_changes_are_audited_with_what_changed(lead_client, lead, viewer):
    operator = Group.objects.get(name="Operator")
    _change(lead_client, viewer, first_name="Vi", groups=[operator.pk])
    event = AuditEvent.objects.get(action="user_change")
    assert event.actor == lead and event.target == "viewer"
    assert "first_name" in event.params["fields"] and event.params["created"] is False
    assert event.params["groups"] == {"added": ["Operator"], "removed": ["Viewer"]}
    assert "user_permissions" not in event.params  # unchanged


def test_a_password_change_is_audited_without_the_hash(root_client, viewer):
    response = root_client.post(f"/admin/auth/user/{viewer.pk}/password/",
                                {"password1": "New-Passw0rd-2026!", "password2": "New-Passw0rd-2026!",
                                 "usable_password": "true"})  # fmt: skip
    assert response.status_code == 302
    viewer.refresh_from_db()
    event = AuditEvent.objects.get(action="user_change")
    assert event.target == "viewer" and event.params == {"password": "changed"}
    assert viewer.password not in str(event.__dict__) and "New-Passw0rd" not in str(event.__dict__)


def test_adding_and_deleting_a_user_are_audited(root_client):
    response = root_client.post("/admin/auth/user/add/", {"username": "newbie", "password1": "Str0ng-Passw0rd!",
                                "password2": "Str0ng-Passw0rd!", "usable_password": "true"})  # fmt: skip
    assert response.status_code == 302
    newbie = User.objects.get(username="newbie")
    root_client.post(f"/admin/auth/user/{newbie.pk}/delete/", {"post": "yes"})
    events = list(AuditEvent.objects.filter(action="user_change").order_by("id").values_list("target", "params"))
    assert events == [("newbie", {"fields": ["username"], "created": True}), ("newbie", {"deleted": True})]
    assert "Str0ng" not in str(events)


def test_group_changes_are_audited_with_their_permissions(root_client):
    group = Group.objects.create(name="Readers")
    view = _perm("batches", "view_batch")
    response = root_client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "Readers", "permissions": [view.pk]})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="group_change")
    assert event.target == "Readers"
    assert event.params == {"fields": [], "created": False, "permissions": {"added": ["batches.view_batch"]}}


def test_an_admin_gives_a_user_chosen_workspaces_with_roles_each_on_the_record(
    lead_client, lead, viewer, make_workspace
):
    alpha, beta = make_workspace("alpha"), make_workspace("beta")
    response = _change(lead_client, viewer, **{
        "workspace_access-TOTAL_FORMS": "2",
        "workspace_access-0-workspace": alpha.pk, "workspace_access-0-roles": ["Auditor", "Operator"],
        "workspace_access-1-workspace": beta.pk, "workspace_access-1-roles": ["Viewer"],
    })  # fmt: skip
    assert response.status_code == 302
    assert {(a.workspace.name, tuple(a.roles)) for a in viewer.workspace_access.all()} == {
        ("alpha", ("Operator", "Auditor")),  # kept in the order of the roles, whatever the order ticked
        ("beta", ("Viewer",)),
    }
    event = AuditEvent.objects.get(action="access_change")
    assert event.actor == lead and event.target == "viewer"
    assert event.params == {"given": ["alpha: Operator + Auditor", "beta: Viewer"]}

    access = viewer.workspace_access.get(workspace=beta)
    response = _change(lead_client, viewer, **{f"workspace_access-{_row(viewer, beta)}-DELETE": "on"})
    assert response.status_code == 302 and not viewer.workspace_access.filter(pk=access.pk).exists()
    assert AuditEvent.objects.filter(action="access_change").latest("id").params == {"taken": ["beta: Viewer"]}


def test_a_workspace_given_with_no_role_or_an_unknown_one_is_refused_and_nothing_saved(
    lead_client, viewer, make_workspace
):
    alpha = make_workspace("alpha")
    for roles in ([], ["Owner"]):
        response = _change(lead_client, viewer, **{
            "workspace_access-TOTAL_FORMS": "1",
            "workspace_access-0-workspace": alpha.pk, "workspace_access-0-roles": roles,
        })  # fmt: skip
        assert response.status_code == 200  # the form again, with its error
        assert not viewer.workspace_access.exists()


def _row(user: User, workspace) -> int:
    """The inline row of `workspace`, in the order the admin lists a user's workspaces (by id)."""
    return list(user.workspace_access.order_by("pk").values_list("workspace_id", flat=True)).index(workspace.pk)

import io

import pytest
from django.core.management import CommandError, call_command

from batches.models import Batch, Workspace


def test_sync_batches_runs_a_whole_pass_in_the_foreground(emulator, workspace):
    ids = emulator.seed_batches(workspace.test_api_key, 3, status="ended", n_requests=4)
    out = io.StringIO()
    call_command("sync_batches", "--workspace", "main", stdout=out)
    assert "3 new" in out.getvalue() and "3 ingested" in out.getvalue()
    assert all(b.results_ingested_at for b in Batch.objects.filter(id__in=ids))


def test_sync_batches_fails_with_a_one_line_reason(make_workspace):
    make_workspace("bad", known=False)
    with pytest.raises(CommandError) as excinfo:
        call_command("sync_batches", "--workspace", "bad")
    assert "authentication_error" in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_sync_batches_creates_the_default_workspace_from_the_environment(emulator, settings, db):
    emulator.add_workspace(api_key="sk-ant-env-key-0001", name="env")
    settings.ANTHROPIC_API_KEY = "sk-ant-env-key-0001"
    settings.ANTHROPIC_BASE_URL = emulator.base_url
    call_command("sync_batches", stdout=io.StringIO())
    ws = Workspace.objects.get(name="default")
    assert ws.api_key_hint == "sk-ant-…0001" and ws.last_synced_at


def test_add_workspace_reads_the_key_from_an_environment_variable(db, monkeypatch):
    monkeypatch.setenv("TEAM_KEY", "sk-ant-team-key-7777")
    out = io.StringIO()
    call_command("add_workspace", "team", "--key-env", "TEAM_KEY", stdout=out)
    assert Workspace.objects.get(name="team").credentials.api_key == "sk-ant-team-key-7777"
    assert "7777" in out.getvalue() and "sk-ant-team-key" not in out.getvalue()


def test_add_workspace_reads_the_key_from_stdin(db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-ant-piped-key-5555\n"))
    call_command("add_workspace", "piped", stdout=io.StringIO())
    assert Workspace.objects.get(name="piped").credentials.api_key == "sk-ant-piped-key-5555"


def test_add_workspace_is_on_the_audit_log_without_the_key(db, monkeypatch):
    from batches.models import AuditEvent

    monkeypatch.setenv("TEAM_KEY", "sk-ant-team-key-7777")
    call_command("add_workspace", "team", "--key-env", "TEAM_KEY", stdout=io.StringIO())
    call_command("add_workspace", "team", "--key-env", "TEAM_KEY", "--base-url", "https://proxy.example.com",
                 stdout=io.StringIO())  # fmt: skip
    rows = list(AuditEvent.objects.order_by("id").values_list("action", "target", "actor_name", "params"))
    assert [(a, t, who) for a, t, who, _ in rows] == [
        ("key_change", "team", "system"), ("workspace_change", "team", "system"),
        ("key_change", "team", "system"), ("workspace_change", "team", "system"),
    ]  # fmt: skip
    assert rows[1][3]["created"] is True and rows[1][3]["via"].startswith("manage.py add_workspace")
    assert rows[3][3]["base_url"] == {"from": "", "to": "https://proxy.example.com"}
    assert "sk-ant-team-key" not in str(rows) and "7777" in rows[0][3]["key"]


def test_add_workspace_refuses_an_empty_key(db, monkeypatch):
    monkeypatch.setenv("EMPTY", "")
    with pytest.raises(CommandError, match="empty"):
        call_command("add_workspace", "x", "--key-env", "EMPTY")


def test_ensure_admin_prints_the_new_password_in_a_block_of_its_own(db, settings, tmp_path):
    from io import StringIO

    from django.contrib.auth.models import User
    from django.core.management import call_command

    class Terminal(StringIO):
        def isatty(self) -> bool:
            return True

    settings.VAR_DIR, settings.DASHBOARD_URL = tmp_path, "http://127.0.0.1:8100"
    out = Terminal()
    call_command("ensure_admin", stdout=out)
    password = (tmp_path / "admin-password.txt").read_text().strip()
    lines = out.getvalue().strip("\n").splitlines()
    assert lines[0] == lines[-1] and set(lines[0]) == {"+", "-"}  # ruled above and below
    assert all(line.startswith("| ") and line.endswith(" |") and len(line) == len(lines[0]) for line in lines[1:-1])
    assert f"| Password: {password} " in out.getvalue() and "http://127.0.0.1:8100/" in out.getvalue()
    assert User.objects.get(username="admin").check_password(password)

    again = StringIO()
    call_command("ensure_admin", stdout=again)  # a later start: where the password is, never the password
    assert password not in again.getvalue() and "admin-password.txt" in again.getvalue()


def test_a_first_start_into_a_log_names_the_file_not_the_password(db, settings, tmp_path):
    """systemd, a container or CI keep stdout in a log that others read: the password was printed there."""
    from io import StringIO

    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    out = StringIO()  # not a terminal
    call_command("ensure_admin", stdout=out)

    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert password not in out.getvalue()
    assert f"Its password is kept in {tmp_path / 'admin-password.txt'}" in out.getvalue()


def test_the_generated_password_file_is_0600_and_goes_once_the_password_is_changed(db, settings, tmp_path):
    from io import StringIO

    from django.contrib.auth.models import User
    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    call_command("ensure_admin", stdout=StringIO())
    password_file = tmp_path / "admin-password.txt"
    assert password_file.stat().st_mode & 0o777 == 0o600

    call_command("ensure_admin", stdout=StringIO())  # still the admin's password: kept
    assert password_file.exists()
    admin = User.objects.get(username="admin")
    admin.set_password("a-new-password-of-their-own")
    admin.save()
    call_command("ensure_admin", stdout=StringIO())  # the next start

    assert not password_file.exists()

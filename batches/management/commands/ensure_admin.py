import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


def framed(lines: list[str]) -> str:
    """A block that stands apart from the log lines around it (./bin/start prints both to one terminal)."""
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join(["", rule, *(f"| {line.ljust(width)} |" for line in lines), rule, ""])


def forget_changed_password(password_file: Path) -> None:
    """The generated password is kept only while it is still the admin's: once changed, the file goes."""
    if not password_file.exists():
        return
    admin = get_user_model().objects.filter(username="admin").first()
    if admin is None or not admin.check_password(password_file.read_text().strip()):
        password_file.unlink(missing_ok=True)


class Command(BaseCommand):
    help = "Create the first admin user if there is none, and say how to log in."

    def handle(self, *args, **options):
        User = get_user_model()
        password_file = settings.VAR_DIR / "admin-password.txt"
        where = f"Dashboard: {settings.DASHBOARD_URL.rstrip('/')}/"
        if User.objects.filter(is_superuser=True).exists():
            forget_changed_password(password_file)
            if password_file.exists():
                self.stdout.write(framed([where, f"Log in as admin with the password kept in {password_file}"]))
            else:
                self.stdout.write(framed([where, "Log in with your admin account."]))
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "", password)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.unlink(missing_ok=True)
        # Created 0600, never written first and chmod'ed after: no moment when another user can read it.
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        # A terminal is read by the person starting it once; anything else (systemd, a container, CI) is a log
        # that others read and keep: there, only where the password is. (A container given a terminal, `docker
        # run -t`, keeps that terminal's output in its log too: start it without one.)
        if self.stdout.isatty():
            lines = [where, "Created the first user: admin", f"Password: {password}", f"(also kept in {password_file})"]
        else:
            lines = [where, "Created the first user: admin", f"Its password is kept in {password_file}"]
        self.stdout.write(framed(lines))

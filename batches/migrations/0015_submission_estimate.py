# Drafts and the pre-flight estimate: an upload is kept unsent until an Operator confirms it.

from django.db import migrations, models
from django.db.models import F


def confirm_existing(apps, schema_editor):
    # Every submission made before drafts existed was sent as it was made: none of them is a draft.
    Submission = apps.get_model("batches", "Submission")
    Submission.objects.filter(confirmed_at=None).update(confirmed_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0014_ops"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="confirmed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="submission",
            name="discarded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="submission",
            name="estimate",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="submission",
            name="estimate_asked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="submission",
            name="estimate_error",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="submission",
            name="estimated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("cancel", "Cancel"),
                    ("submit", "Submit"),
                    ("retry", "Retry"),
                    ("attach_inputs", "Attach Inputs"),
                    ("workspace_change", "Workspace Change"),
                    ("key_change", "Key Change"),
                    ("price_change", "Price Change"),
                    ("budget_change", "Budget Change"),
                    ("discard", "Discard"),
                    ("download", "Download"),
                    ("export", "Export"),
                    ("lockout", "Lockout"),
                    ("user_change", "User Change"),
                    ("group_change", "Group Change"),
                ],
                max_length=32,
            ),
        ),
        migrations.RunPython(confirm_existing, migrations.RunPython.noop),
    ]

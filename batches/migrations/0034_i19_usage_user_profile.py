"""The batch-level user profile (`anthropic-user-profile-id`) on each usage row: a spend dimension. Rows rolled up
before it take their batch's profile, so past spend groups by profile too."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_profiles(apps, schema_editor):
    Batch = apps.get_model("batches", "Batch")
    UsageRollup = apps.get_model("batches", "UsageRollup")
    profiled = Batch.objects.exclude(user_profile_id="")
    profile = Subquery(profiled.filter(pk=OuterRef("batch_id")).values("user_profile_id")[:1])
    UsageRollup.objects.filter(batch__in=profiled).update(user_profile_id=profile)


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0033_i18_usage_iterations"),
    ]

    operations = [
        migrations.AddField(
            model_name="usagerollup",
            name="user_profile_id",
            field=models.CharField(blank=True, max_length=128),
        ),
        migrations.RunPython(copy_profiles, migrations.RunPython.noop),
    ]

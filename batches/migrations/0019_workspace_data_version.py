from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0018_result_by_custom_id"),
    ]

    operations = [
        migrations.AddField(
            model_name="workspace",
            name="data_version",
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
    ]

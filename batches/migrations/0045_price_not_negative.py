"""Prices, factors and multipliers are never negative: the admin saved input=-1, which would turn spend into
credit. Validators only: no data changes."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0044_input_by_custom_id"),
    ]

    operations = [
        migrations.AlterField(
            model_name="price",
            name="batch_factor",
            field=models.DecimalField(
                decimal_places=4,
                default=Decimal("0.5"),
                help_text="Batch price as a share of standard",
                max_digits=5,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="cache_read",
            field=models.DecimalField(
                decimal_places=6,
                help_text="USD per million cache-read tokens",
                max_digits=12,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="cache_write_1h",
            field=models.DecimalField(
                decimal_places=6,
                help_text="USD per million, 1-hour cache",
                max_digits=12,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="cache_write_5m",
            field=models.DecimalField(
                decimal_places=6,
                help_text="USD per million, 5-minute cache",
                max_digits=12,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="fast_multiplier",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text='Token prices times this when usage.speed is "fast". Empty: not offered (unpriced).',
                max_digits=6,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="input",
            field=models.DecimalField(
                decimal_places=6,
                help_text="USD per million uncached input tokens",
                max_digits=12,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="long_cache_read",
            field=models.DecimalField(
                blank=True,
                decimal_places=6,
                max_digits=12,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="long_cache_write_1h",
            field=models.DecimalField(
                blank=True,
                decimal_places=6,
                max_digits=12,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="long_cache_write_5m",
            field=models.DecimalField(
                blank=True,
                decimal_places=6,
                max_digits=12,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="long_input",
            field=models.DecimalField(
                blank=True,
                decimal_places=6,
                max_digits=12,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="long_output",
            field=models.DecimalField(
                blank=True,
                decimal_places=6,
                max_digits=12,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="output",
            field=models.DecimalField(
                decimal_places=6,
                help_text="USD per million output tokens",
                max_digits=12,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="us_multiplier",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text='Token prices times this when usage.inference_geo is "us". Empty: not offered (unpriced).',
                max_digits=6,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AlterField(
            model_name="price",
            name="web_search_per_1000",
            field=models.DecimalField(
                decimal_places=4,
                default=Decimal("10"),
                help_text="USD per 1,000 web searches (no batch discount)",
                max_digits=10,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
    ]

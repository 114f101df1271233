"""What batches cost: dated prices, usage rolled up per batch and model, budgets."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from batches.models.mirror import Batch, Workspace

USD = {"max_digits": 18, "decimal_places": 9}  # fractions of a cent survive until display


class Price(models.Model):
    """Standard (non-batch) price of a model family per million tokens, from a date on.

    `model_prefix` "claude-sonnet-4-5" prices "claude-sonnet-4-5" and dated ids such as
    "claude-sonnet-4-5-20250929"; the longest matching prefix wins. A report prices each day's usage
    with the rows in force that day, so editing next month's price leaves last quarter alone.
    """

    model_prefix = models.CharField(max_length=100)
    effective_from = models.DateField()
    input = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per million uncached input tokens")
    output = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per million output tokens")
    cache_write_5m = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per million, 5-minute cache")
    cache_write_1h = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per million, 1-hour cache")
    cache_read = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per million cache-read tokens")
    batch_factor = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.5"), help_text="Batch price as a share of standard"
    )
    source = models.CharField(max_length=300, help_text="Where the figures come from, and when they were read")

    class Meta:
        ordering = ["model_prefix", "-effective_from"]
        constraints = [models.UniqueConstraint(fields=["model_prefix", "effective_from"], name="price_unique_from")]

    def __str__(self) -> str:
        return f"{self.model_prefix} from {self.effective_from}"


class UsageRollup(models.Model):
    """The succeeded results of one batch and model, summed once at ingest, and what they cost.

    Errored, canceled and expired results are not billed, so they are not here. Reports sum these
    rows (thousands), never the results (millions). Costs are recomputed when prices change.
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="usage")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="usage")
    submitter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    model = models.CharField(max_length=128)
    day = models.DateField(help_text="UTC day the batch ended: when its usage was billed")
    requests = models.PositiveIntegerField()
    input_tokens = models.PositiveBigIntegerField()
    output_tokens = models.PositiveBigIntegerField()
    cache_write_5m_tokens = models.PositiveBigIntegerField()
    cache_write_1h_tokens = models.PositiveBigIntegerField()
    cache_read_tokens = models.PositiveBigIntegerField()
    price = models.ForeignKey(Price, null=True, on_delete=models.SET_NULL, related_name="+")
    # Null when no price matches the model: counted as unpriced, never as zero.
    cost = models.DecimalField(null=True, **USD)
    standard_cost = models.DecimalField(null=True, **USD)  # the same work at standard prices
    uncached_cost = models.DecimalField(null=True, **USD)  # at batch prices, cache tokens as plain input

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "model"], name="usage_unique_model")]
        indexes = [models.Index(fields=["day"]), models.Index(fields=["workspace", "day"])]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.model}: {self.cost}"


class Budget(models.Model):
    """A workspace's monthly budget: the dashboard warns at 80% and at 100% of it."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="budget")
    monthly_amount = models.DecimalField(max_digits=14, decimal_places=2, help_text="USD per calendar month")

    def __str__(self) -> str:
        return f"{self.workspace}: ${self.monthly_amount}/month"


class ReportedCost(models.Model):
    """Anthropic's Cost Report for the batch service tier, per UTC day and model, as last fetched."""

    day = models.DateField()
    model = models.CharField(max_length=128)
    amount = models.DecimalField(**USD)
    requests = models.PositiveIntegerField(null=True)
    fetched_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "model"], name="reported_cost_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.model}: {self.amount}"


class CostReportFetch(models.Model):
    """Each attempt to fetch the Cost Report, so the page says how fresh the comparison is."""

    at = models.DateTimeField()
    ok = models.BooleanField()
    rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at}: {'ok' if self.ok else self.error}"

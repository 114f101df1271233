"""What batches cost: dated prices, usage rolled up per batch, model and price key, budgets."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from batches.models.mirror import Batch, Workspace

USD = {"max_digits": 18, "decimal_places": 9}  # fractions of a cent survive until display


# A price, a factor or a multiplier below zero would turn spend into credit: the admin saved one (input=-1).
NOT_NEGATIVE = [MinValueValidator(Decimal(0))]
RATE = {"max_digits": 12, "decimal_places": 6, "validators": NOT_NEGATIVE}


class Price(models.Model):
    """Standard (non-batch) prices of one model family per million tokens, in force from a date on.

    A model id reaches its family only through `PricedModel` (or by being the family's own name):
    never by prefix, so `claude-opus-4-8` can never fall to `claude-opus-4`. A report prices each
    day's usage with the row in force that day. The rules that vary by model are columns here:
    the long-prompt band, the US-only inference and fast-mode multipliers, the web-search fee.
    """

    class Origin(models.TextChoices):
        BOOK = "book", "price book (batches/data/price_book.json)"
        ADMIN = "admin", "edited by an Admin"

    family = models.CharField(max_length=100)
    effective_from = models.DateField()
    input = models.DecimalField(**RATE, help_text="USD per million uncached input tokens")
    output = models.DecimalField(**RATE, help_text="USD per million output tokens")
    cache_write_5m = models.DecimalField(**RATE, help_text="USD per million, 5-minute cache")
    cache_write_1h = models.DecimalField(**RATE, help_text="USD per million, 1-hour cache")
    cache_read = models.DecimalField(**RATE, help_text="USD per million cache-read tokens")
    batch_factor = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.5"),
        validators=NOT_NEGATIVE,
        help_text="Batch price as a share of standard",
    )
    long_prompt_over = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Prompt (input + cache writes + reads) over this: the whole request at the long rates",
    )
    long_input = models.DecimalField(**RATE, null=True, blank=True)
    long_output = models.DecimalField(**RATE, null=True, blank=True)
    long_cache_write_5m = models.DecimalField(**RATE, null=True, blank=True)
    long_cache_write_1h = models.DecimalField(**RATE, null=True, blank=True)
    long_cache_read = models.DecimalField(**RATE, null=True, blank=True)
    us_multiplier = models.DecimalField(
        max_digits=6, decimal_places=4, null=True, blank=True, validators=NOT_NEGATIVE,
        help_text='Token prices times this when usage.inference_geo is "us". Empty: not offered (unpriced).',
    )  # fmt: skip
    fast_multiplier = models.DecimalField(
        max_digits=6, decimal_places=4, null=True, blank=True, validators=NOT_NEGATIVE,
        help_text='Token prices times this when usage.speed is "fast". Empty: not offered (unpriced).',
    )  # fmt: skip
    web_search_per_1000 = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal(10),
        validators=NOT_NEGATIVE,
        help_text="USD per 1,000 web searches (no batch discount)",
    )
    source = models.CharField(max_length=500, help_text="Where the figures come from, and when they were read")
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.ADMIN)

    class Meta:
        ordering = ["family", "-effective_from"]
        constraints = [models.UniqueConstraint(fields=["family", "effective_from"], name="price_unique_from")]

    def __str__(self) -> str:
        return f"{self.family} from {self.effective_from}"


class PricedModel(models.Model):
    """A model id the API returns (a dated id, an alias) and the one price family it bills as."""

    model = models.CharField(max_length=128, unique=True)
    family = models.CharField(max_length=100)

    class Meta:
        ordering = ["model"]

    def __str__(self) -> str:
        return f"{self.model} -> {self.family}"


class UsageRollup(models.Model):
    """The succeeded results of one batch, model and price key, summed once at ingest, and their cost.

    The price key is what makes one request's tokens cost more than another's of the same model: its
    prompt band ("long" when its prompt was over the family's threshold), `inference_geo` and `speed`.
    Each request is put in its key before summing, so a per-request rule survives the sum. The beta
    usage.iterations billed apart (a compaction, an advisor's call) are rows of the model that billed them,
    with their `iteration` type: a report sums their cost, but counts requests only in `iteration=""` rows.
    Errored, canceled and expired results are not billed, so they are not here. Reports sum these
    rows (thousands), never the results (millions). Costs are recomputed when prices change.
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="usage")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="usage")
    submitter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # The batch's `anthropic-user-profile-id` (the end customer its requests were for): a spend dimension beside
    # the submitter. Profiles are not billed and change no price; empty for a batch created without one.
    user_profile_id = models.CharField(max_length=128, blank=True)
    model = models.CharField(max_length=128)
    prompt_band = models.CharField(max_length=8, blank=True, help_text='"long": billed at the long-prompt rates')
    inference_geo = models.CharField(max_length=32, blank=True)
    speed = models.CharField(max_length=16, blank=True)
    iteration = models.CharField(
        max_length=32, blank=True, default="",
        help_text="Empty: the requests' own usage. Else the usage.iterations type of calls billed apart",
    )  # fmt: skip
    day = models.DateField(help_text="UTC day the batch ended: when its usage was billed")
    requests = models.PositiveIntegerField()
    input_tokens = models.PositiveBigIntegerField()
    output_tokens = models.PositiveBigIntegerField()
    cache_write_5m_tokens = models.PositiveBigIntegerField()
    cache_write_1h_tokens = models.PositiveBigIntegerField()
    cache_read_tokens = models.PositiveBigIntegerField()
    web_search_requests = models.PositiveBigIntegerField(default=0)
    price = models.ForeignKey(Price, null=True, on_delete=models.SET_NULL, related_name="+")
    # Null when no price matches the model: counted as unpriced, never as zero.
    cost = models.DecimalField(null=True, **USD)
    standard_cost = models.DecimalField(null=True, **USD)  # the same work at standard prices
    uncached_cost = models.DecimalField(null=True, **USD)  # at batch prices, cache tokens as plain input

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "model", "prompt_band", "inference_geo", "speed", "iteration"], name="usage_unique_key"
            )
        ]
        indexes = [models.Index(fields=["day"]), models.Index(fields=["workspace", "day"])]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.model}: {self.cost}"


class DailyUsage(models.Model):
    """The usage rows of one UTC day, workspace, submitter, user profile and model, summed again: what the spend
    report reads. Batches of ten results make one usage row each, so 100,000 batches are 105,000 rows that a
    62-day report summed in 45-70 ms; a day holds a few hundred of these. Rebuilt day by day, in the same
    transaction, by every write of usage rows (batches/services/pricing/daily.py). `requests` counts only the
    requests' own rows (not usage.iterations); `unpriced` counts the requests of rows without a price."""

    day = models.DateField()
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    submitter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    user_profile_id = models.CharField(max_length=128, blank=True)
    model = models.CharField(max_length=128)
    requests = models.PositiveBigIntegerField()
    input_tokens = models.PositiveBigIntegerField()
    output_tokens = models.PositiveBigIntegerField()
    cache_write_tokens = models.PositiveBigIntegerField()
    cache_read_tokens = models.PositiveBigIntegerField()
    # Null while nothing in the group is priced, as the sum of usage rows is: unpriced, never $0.
    cost = models.DecimalField(null=True, max_digits=24, decimal_places=9)
    standard_cost = models.DecimalField(null=True, max_digits=24, decimal_places=9)
    uncached_cost = models.DecimalField(null=True, max_digits=24, decimal_places=9)
    unpriced = models.PositiveBigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"]), models.Index(fields=["workspace", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.model}: {self.cost}"


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


class ReportedCostPart(models.Model):
    """The Cost Report's breakdown of a day and model: by inference_geo, context window and token type (or
    "web_search"), so a drift can be traced to the rule that makes it."""

    day = models.DateField()
    model = models.CharField(max_length=128)
    inference_geo = models.CharField(max_length=16, blank=True)
    context_window = models.CharField(max_length=16, blank=True)
    part = models.CharField(max_length=64, help_text="token_type, or the cost_type of a fee (web_search)")
    amount = models.DecimalField(**USD)
    fetched_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "model", "inference_geo", "context_window", "part"], name="reported_part_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model} {self.inference_geo}/{self.context_window}/{self.part}: {self.amount}"


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

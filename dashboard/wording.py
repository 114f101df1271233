"""Numbers in sentences: the noun agrees with the number, and thousands are separated. And what a batch was sent
with, in words."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batches.models import Batch


def counted(n: int | None, one: str, many: str | None = None) -> str:
    """counted(1, "batch", "batches") -> "1 batch"; counted(1234, "item") -> "1,234 items"."""
    n = n or 0
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def sent_with(batch: Batch) -> str:
    """The batch-level user profile and betas it was created with ("" for neither): who its requests were for, and
    what its retries send again. Escaped by the template, as the pass-through keeps the header as sent."""
    parts = [f"user profile {batch.user_profile_id}"] if batch.user_profile_id else []
    if batch.betas:
        parts.append(("beta " if len(batch.betas) == 1 else "betas ") + ", ".join(batch.betas))
    return ("Sent for " + "; ".join(parts)) if parts else ""

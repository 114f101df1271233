"""Numbers in sentences: the noun agrees with the number, and thousands are separated."""

from __future__ import annotations


def counted(n: int | None, one: str, many: str | None = None) -> str:
    """counted(1, "batch", "batches") -> "1 batch"; counted(1234, "item") -> "1,234 items"."""
    n = n or 0
    return f"{n:,} {one if n == 1 else (many or one + 's')}"

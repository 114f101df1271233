"""Model names, in ONE place: which models the API serves now, and what each alias resolves to.

A request may name an alias (`claude-haiku-4-5`); its results then report the dated id the alias resolves
to (`claude-haiku-4-5-20251001`), as the API does. Dated ids and ids that are not aliases (from Claude 4.6
on, model ids carry no date and name a fixed snapshot: `claude-sonnet-4-6`) pass through unchanged.

A model the API does not serve (unknown, or retired: not in SDK 2.17.0's list) is not refused at create:
its request ends `errored` with `not_found_error` / `model: <name>`, the API's behaviour for batches.
`count_tokens` answers 404 `not_found_error` with the same message.
"""

from __future__ import annotations

# Alias -> the dated id it resolves to. SDK 2.17.0 (`anthropic/types/model.py`) lists exactly these two
# aliases next to their dated ids; every other id it lists has no dated twin.
MODEL_ALIASES: dict[str, str] = {
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",  # deprecated (SDK `_data/deprecated_models.py`), still served
}

# The models the API serves: the `Literal` of `Model` in SDK 2.17.0 (`anthropic/types/model.py`).
# Not in it, hence retired: claude-3-*, claude-sonnet-4 / opus-4 (-0), claude-opus-4-1, claude-sonnet-4-5.
CURRENT_MODELS = (
    "claude-fable-5-2",
    "claude-mythos-5-2",
    "claude-haiku-5-5",
    "claude-sonnet-5-5",
    "claude-fable-5-1",
    "claude-opus-5-5",
    "claude-mythos-5-1",
    "claude-sonnet-5",
    "claude-fable-5",
    "claude-mythos-5",
    "claude-opus-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-mythos-preview",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-5",
    "claude-opus-4-5-20251101",
)
_SERVED = frozenset(CURRENT_MODELS) | frozenset(MODEL_ALIASES.values())


def resolve_model(name: str) -> str | None:
    """The model id a request for `name` runs on (an alias resolved to its dated id), or None when the API
    serves no such model."""
    resolved = MODEL_ALIASES.get(name, name)
    return resolved if resolved in _SERVED else None


def resolve_alias(name: str) -> str:
    """`name` with an alias resolved, whether or not the model is served (seeded batches, which stand for
    past batches whose model may have been served then)."""
    return MODEL_ALIASES.get(name, name)

"""The beta `usage.iterations` (SDK 2.17 `BetaIterationsUsage`): sampling the API reports apart, each per request.

A request asks for them by using the features, under their `anthropic-beta` header (without it the API
refuses the tool or edit: in a batch, an errored item):
- compaction: a `context_management` edit `compact_20260112` (header `compact-2026-01-12`); a prompt at or
  over its `trigger` (input tokens; default 150,000, at least 50,000) is summarized first. The `compaction`
  entry is that summarizing call: the request's own model, NOT in the top-level `usage` (SDK `BetaUsage`).
- advisor: an `advisor_20260301` tool (header `advisor-tool-2026-03-01`); the executor consults it once.
  The `advisor_message` entry is the advisor's call, at the advisor model's rates, NOT in the top-level
  usage, which is the executor's alone (platform.claude.com/docs/en/agents-and-tools/tool-use/advisor-tool).
- server-side fallback: `fallbacks` (header `server-side-fallback-2026-06-01` or `-07-01`); a request the
  requested model declines (`[emulate:succeeded:refusal]`) is served by the first fallback model: a `fallback`
  content block, the response's `model` is the fallback's, and `[message (the declined hop, the requested
  model), fallback_message (the serving hop)]`. The top level sums both hops; each hop is billed at its model.
The `message` entries are the request's own model's calls; the top-level usage is their sum.
Every entry has the SDK's required fields (cache counts included), so strict response validation takes it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .models import resolve_model

COMPACT_BETA, COMPACT_EDIT = "compact-2026-01-12", "compact_20260112"
COMPACT_DEFAULT_TRIGGER, COMPACT_MIN_TRIGGER = 150_000, 50_000
ADVISOR_BETA, ADVISOR_TOOL = "advisor-tool-2026-03-01", "advisor_20260301"
FALLBACK_BETAS = ("server-side-fallback-2026-06-01", "server-side-fallback-2026-07-01")
# The types whose tokens are billed apart from the top-level usage (the others are part of it).
APART = ("compaction", "advisor_message")


def features(params: dict[str, Any], tools: list[Any], betas: tuple[str, ...]) -> tuple[int | None, str, str, bool]:
    """(compaction trigger or None, advisor model or "", fallback model or "", refused): refused when a feature is
    used without its header, with a trigger under the minimum, or with a model the API does not serve."""
    compact_over, advisor, fallback, refused = None, "", "", False
    management = params.get("context_management")
    edits = management.get("edits") if isinstance(management, dict) else None
    for edit in edits if isinstance(edits, list) else ():
        if isinstance(edit, dict) and edit.get("type") == COMPACT_EDIT:
            trigger = edit.get("trigger") or {}
            value = trigger.get("value", COMPACT_DEFAULT_TRIGGER) if isinstance(trigger, dict) else None
            ok = COMPACT_BETA in betas and isinstance(value, int) and value >= COMPACT_MIN_TRIGGER
            compact_over, refused = (value, refused) if ok else (None, True)
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == ADVISOR_TOOL:
            model = resolve_model(tool["model"]) if isinstance(tool.get("model"), str) else None
            if ADVISOR_BETA not in betas or model is None:
                refused = True
            else:
                advisor = model
    chain = params.get("fallbacks")
    if chain is not None:
        first = chain[0] if isinstance(chain, list) and chain and isinstance(chain[0], dict) else {}
        model = resolve_model(first["model"]) if isinstance(first.get("model"), str) else None
        if not any(b in betas for b in FALLBACK_BETAS) or (chain != "default" and model is None):
            refused = True
        else:  # "default": the server's own chain, not emulated (a declined request stays declined)
            fallback = model or ""
    return compact_over, advisor, fallback, refused


class Usage(NamedTuple):
    """A call's (or the top level's) token counts, as `usage` reports them."""

    input: int
    cache_write: int  # cache_creation_input_tokens: 5-minute plus 1-hour
    cache_read: int
    one_hour: int
    output: int


def _entry(kind: str, usage: Usage, model: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": kind, "input_tokens": usage.input, "output_tokens": usage.output,
        "cache_creation_input_tokens": usage.cache_write, "cache_read_input_tokens": usage.cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": usage.cache_write - usage.one_hour,
                           "ephemeral_1h_input_tokens": usage.one_hour},
    }  # fmt: skip
    if model is not None:
        entry["model"] = model
    return entry


def iterations(
    bits: int, compact_over: int | None, advisor: str, top: Usage, declined_by: str = "", served_by: str = ""
) -> tuple[Usage, list[dict[str, Any]]]:
    """The top-level usage once the features have run, and the entries of `usage.iterations` ([] for none).
    `declined_by` / `served_by`: the requested and the fallback model of a request served by a fallback."""
    if declined_by:
        # The declined hop read the prompt and wrote a little; the serving hop did the whole request again.
        declined = Usage(top.input, top.cache_write, top.cache_read, top.one_hour, (bits >> 88) % 20 + 1)
        served = Usage(top.input, 0, 0, 0, top.output)
        entries = [_entry("message", declined, declined_by), _entry("fallback_message", served, served_by)]
        return Usage(
            top.input * 2, top.cache_write, top.cache_read, top.one_hour, top.output + declined.output
        ), entries
    entries: list[dict[str, Any]] = []
    prompt = top.input + top.cache_write + top.cache_read
    if compact_over is not None and prompt >= compact_over:
        # The summarizing call reads the whole context; the answer then reads the summary, not the context.
        summary = 1000 + (bits >> 60) % 2000
        entries.append(_entry("compaction", Usage(prompt, 0, 0, 0, summary)))
        top = Usage(summary + (bits >> 72) % 64 + 1, 0, 0, 0, top.output)
    if advisor:
        # Executor call, the advisor's call (it reads the transcript so far), the executor's call with its advice.
        first_output = max(1, top.output // 3)
        first = Usage(top.input, top.cache_write, top.cache_read, top.one_hour, first_output)
        context = top.input + top.cache_write + top.cache_read + first_output
        advice = Usage(context, 0, 0, 0, 1400 + (bits >> 80) % 401)
        second = Usage(context + 600, 0, 0, 0, top.output - first_output)
        entries += [_entry("message", first), _entry("advisor_message", advice, advisor), _entry("message", second)]
        top = Usage(first.input + second.input, first.cache_write, first.cache_read, first.one_hour, top.output)
    elif entries:
        entries.append(_entry("message", top))
    return top, entries

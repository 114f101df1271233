"""Which failed (or incomplete) results can simply be sent again, and which need the request fixed first.

From the API docs: an `invalid_request_error` needs the request fixed; overloaded, API, rate-limit
and timeout errors are transient, and expired or canceled requests never ran. Anything else (an
unknown model is a `not_found_error`, a key without access a `permission_error`) would fail again.

Of the incomplete answers (succeeded at the API, `models.INCOMPLETE`): a `pause_turn` is continued as the API
documents (the request sent again with the paused assistant content appended), so it goes without a human
decision; `max_tokens` and `model_context_window_exceeded` need a higher max_tokens or a larger model, and a
`refusal` is sent again only on purpose: all three wait for the operator, as a fix does.
"""

RETRY_AS_IS_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
RETRY_AS_IS_RESULTS = frozenset({"expired", "canceled"})
CONTINUE_STOP_REASONS = frozenset({"pause_turn"})


def retry_as_is(result_type: str, error_type: str = "", stop_reason: str = "") -> bool:
    return (
        result_type in RETRY_AS_IS_RESULTS
        or (result_type == "errored" and error_type in RETRY_AS_IS_ERRORS)
        or continues(result_type, stop_reason)
    )


def continues(result_type: str, stop_reason: str) -> bool:
    """A paused turn: retried as its continuation rather than as it was."""
    return result_type == "succeeded" and stop_reason in CONTINUE_STOP_REASONS


def retry_as_is_q():
    """The same rule as a filter on results: those a retry sends without a fix."""
    from django.db.models import Q

    return (
        Q(result_type__in=RETRY_AS_IS_RESULTS)
        | Q(result_type="errored", error_type__in=RETRY_AS_IS_ERRORS)
        | Q(result_type="succeeded", stop_reason__in=CONTINUE_STOP_REASONS)
    )

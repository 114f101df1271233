"""Which failed (or incomplete) results can simply be sent again, and which need the request fixed first.

From the API docs: an `invalid_request_error` needs the request fixed; overloaded, API, rate-limit
and timeout errors are transient, and expired or canceled requests never ran. Anything else (an
unknown model is a `not_found_error`) would fail again. Billing, authentication and permission errors are the
account's: fixed there, the same request goes again unchanged.

Of the incomplete answers (succeeded at the API, `models.INCOMPLETE`): a `pause_turn` is continued as the API
documents (the request sent again with the paused assistant content appended), so it goes without a human
decision; `max_tokens` and `model_context_window_exceeded` need a higher max_tokens or a larger model, and a
`refusal` is sent again only on purpose: all three wait for the operator, as a fix does.
"""

RETRY_AS_IS_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
# Problems of the account, not of the request: once billing, the key or its access is fixed, the request is
# sent again as it was. Not retried on their own (they would fail again until someone fixes the account).
ACCOUNT_ERRORS = frozenset({"billing_error", "authentication_error", "permission_error"})
RETRY_AS_IS_RESULTS = frozenset({"expired", "canceled"})
CONTINUE_STOP_REASONS = frozenset({"pause_turn"})


def retry_as_is(result_type: str, error_type: str = "", stop_reason: str = "") -> bool:
    return (
        result_type in RETRY_AS_IS_RESULTS
        or (result_type == "errored" and error_type in RETRY_AS_IS_ERRORS)
        or continues(result_type, stop_reason)
    )


def advice(error_type: str) -> tuple[str, str]:
    """What to do about an errored result of this type: (kind, words) for a badge. Kinds: retry, account, fix."""
    if error_type in RETRY_AS_IS_ERRORS:
        return "retry", "can be retried as is"
    if error_type in ACCOUNT_ERRORS:
        return "account", "an account problem: fix billing, the key or its access, then retry as is"
    return "fix", "fix the request before retrying"


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

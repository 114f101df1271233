"""Which failed results can simply be sent again, and which need the request fixed first.

From the API docs: an `invalid_request_error` needs the request fixed; overloaded, API, rate-limit
and timeout errors are transient, and expired or canceled requests never ran. Anything else (an
unknown model is a `not_found_error`, a key without access a `permission_error`) would fail again.
"""

RETRY_AS_IS_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
RETRY_AS_IS_RESULTS = frozenset({"expired", "canceled"})


def retry_as_is(result_type: str, error_type: str = "") -> bool:
    return result_type in RETRY_AS_IS_RESULTS or (result_type == "errored" and error_type in RETRY_AS_IS_ERRORS)


def retry_as_is_q():
    """The same rule as a filter on results: those a retry sends as they are."""
    from django.db.models import Q

    return Q(result_type__in=RETRY_AS_IS_RESULTS) | Q(result_type="errored", error_type__in=RETRY_AS_IS_ERRORS)

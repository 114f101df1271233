"""Domain errors raised by batches/client.py: callers decide on retry without knowing the SDK."""

from __future__ import annotations


class APIError(Exception):
    """A call to the Message Batches API failed. `error_type` uses the API's words where it has them."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str,
        status: int | None = None,
        request_id: str | None = None,
        error_code: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status
        self.request_id = request_id
        self.error_code = error_code  # the API's `error.details.error_code`, e.g. enforced_spend_limit_reached

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        code = f" [{self.error_code}]" if self.error_code else ""
        return f"{self.error_type}{status}{code}: {self.message}"


class RetryableAPIError(APIError):
    """Trying again later can help: 408, 409, 429, 5xx, 529, a cut connection, a timeout, or whatever the API
    marks `x-should-retry: true`."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentAPIError(APIError):
    """Trying again will fail the same way until someone changes something (key, request, id, a spend
    limit): other 4xx, a coded error, or whatever the API marks `x-should-retry: false`."""


class NotFoundAPIError(PermanentAPIError):
    """404. Right after a batch is created this is transient (SDK issue #1432); callers decide."""


class ResultsUnavailableError(PermanentAPIError):
    """The batch's results cannot be downloaded (not ended yet, or past the 29-day retention)."""

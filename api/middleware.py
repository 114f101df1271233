"""The dashboard's middleware, answering code in the API's error shape."""

from __future__ import annotations

from api.errors import API_PATHS, error_response
from dashboard import middleware


class RejectNulMiddleware(middleware.RejectNulMiddleware):
    """As the dashboard's, but a script calling the REST API or the pass-through gets the API's JSON error (the SDK
    reads its message), not a line of plain text."""

    def refuse(self, request):
        if not request.path_info.startswith(API_PATHS):
            return super().refuse(request)
        return error_response(400, self.MESSAGE)

"""Services: the work itself (sync, ingest, submit, retry, pricing, notify...). Idempotent, safe to run twice or
at once; they never import tasks (work for the worker goes through `queue.enqueue`) nor the web UI."""

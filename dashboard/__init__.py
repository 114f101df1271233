"""The web UI: views, forms, access (the one place objects are opened by id), presenters and template tags."""

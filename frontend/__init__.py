"""dtbase's web frontend: a Flask app that reaches the backend only through `dtbase.client`.

`create_app(settings)` builds it; `frontend.server` serves it (for `dtbase up` and the
browser tests); `app_from_environment()` is the entry point for WSGI servers in containers.
"""

from frontend.app import app_from_environment, create_app

__all__ = ["app_from_environment", "create_app"]

from __future__ import annotations

from dtbase.client.resource import Resource


class Models(Resource):
    """The /model endpoints."""

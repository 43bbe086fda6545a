from __future__ import annotations

from dtbase.client.resource import Resource


class Services(Resource):
    """The /service endpoints."""

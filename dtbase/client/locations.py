from __future__ import annotations

from dtbase.client.resource import Resource


class Locations(Resource):
    """The /location endpoints."""

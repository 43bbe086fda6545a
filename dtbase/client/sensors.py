from __future__ import annotations

from dtbase.client.resource import Resource


class Sensors(Resource):
    """The /sensor endpoints."""

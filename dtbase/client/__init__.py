"""A typed Python client for the dtbase API."""

from dtbase.client.client import Client
from dtbase.client.errors import ApiError

__all__ = ["ApiError", "Client"]

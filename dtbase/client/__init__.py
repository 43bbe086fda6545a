"""A typed Python client for the dtbase API."""

from dtbase.client.client import Client
from dtbase.client.errors import ApiError, describe

__all__ = ["ApiError", "Client", "describe"]

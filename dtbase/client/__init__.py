"""A typed Python client for the dtbase API."""

from dtbase.client.client import Client
from dtbase.client.errors import ApiError, describe
from dtbase.client.unset import UNSET, Unset

__all__ = ["UNSET", "ApiError", "Client", "Unset", "describe"]

"""Helpers shared by the tests (constants, factories, servers, page drivers); fixtures
stay in the conftest.py files, which import from here."""

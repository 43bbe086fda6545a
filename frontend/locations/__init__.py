"""Locations: location schemas (named sets of typed identifiers) and their locations."""

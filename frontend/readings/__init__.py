"""Readings: one sensor's readings of one measure as a paginated table and a CSV file."""

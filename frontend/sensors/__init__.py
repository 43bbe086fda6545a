"""Sensors: types and their measures, sensors, and where each sensor is installed."""

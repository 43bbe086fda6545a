"""What the MQTT bridge reports about each sensor: its last message and recent errors."""

"""MQTT ingress: the local broker (Mosquitto), device credentials, and the bridge that
stores what devices publish through the backend's bulk ingest API (docs/mqtt.md)."""

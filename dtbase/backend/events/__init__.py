"""The events outbox: one row per stored change, written in the change's transaction."""

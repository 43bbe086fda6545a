"""The FDB export service: the API's model runs in a time window into ECMWF's FDB."""

"""Amazon CloudWatch metrics and alarms (CBOR, JSON and query protocols): see `api.py`."""

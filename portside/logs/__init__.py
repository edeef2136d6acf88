"""The log store and the CloudWatch Logs rules it serves (api/logs.py is the wire edge)."""

"""Prometheus for Portside: the control plane's own metrics at `GET /metrics` (`metrics.py`,
`gauges.py`), every task's container usage as the agents sample it (`task_stats.py`), and
HTTP service discovery of the tasks' exporters at `GET /_portside/prometheus/sd`
(`discovery.py`, pure; `targets.py`, read from the store). `routes.py` serves both;
`wiring.py` is what `server.py` builds."""

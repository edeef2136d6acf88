"""Service Connect on a host: the proxy its client tasks reach their namespace's names
through (`proxy.py` the spec, pure; `plane.py` the view's long poll, HAProxy and the
tasks' /etc/hosts entries; `stats.py` the proxy's traffic counts)."""

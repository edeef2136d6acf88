"""HAProxy as Portside's load-balancer data plane, driven from a typed `ProxySpec`.

`spec.py` is what the proxy must do; `render.py` (with `frontends.py`, `conditions.py`,
`redirects.py`, `backends.py`, `names.py`) turns it into haproxy.cfg; `runtime.py` speaks
the runtime API and `parsing.py` reads its answers; `changes.py` tells a reload from runtime
changes, which `targets.py` makes; `health.py` says a target's health in ELB's words;
`process.py` runs and supervises HAProxy and applies specs (`HAProxy.apply`).
"""

"""Elastic Load Balancing v2 (query protocol): load balancers, target groups, listeners,
rules and targets kept in the store; target health as a pure function of a registration and
the data plane's last observation; `view.py` for the data plane to read."""

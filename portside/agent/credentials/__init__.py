"""Task roles on the agent's host, the ECS way: the credentials endpoint a task's SDK finds
through `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, at `http://169.254.170.2/v2/credentials/<id>`.

    ids.py       a task's credentials id: unguessable, the same after an agent restart
    cache.py     each task's role session, asked of the gateway and asked again before expiry
    endpoint.py  the HTTP answers (the ECS agent's shapes), served by the metadata endpoint,
                 and the pass-through that makes `AWS_ENDPOINT_URL=http://169.254.170.2` reach
                 the control plane
    routing.py   169.254.170.2:80 routed to this agent's listener (iptables nat)
    task_roles.py  the agent's one object for all of it: env_for, mount, stop
"""

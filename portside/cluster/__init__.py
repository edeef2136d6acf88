"""Several server replicas over one database, one of them the leader.

Every replica serves the API, answers DNS and holds its agents' sessions; the loops that must
act once (the service controller, liveness, schedules, event delivery...) run on the leader
only. The leader holds a lease row in the store (`lease.py` decides, `records.py` reads and
writes it) whose epoch is a fencing token: each leader-only write transaction checks, inside
itself, that the lease still carries its epoch (`fence.py`), so a deposed leader's late writes
are refused. `leadership.py` renews the lease and starts and stops the leader's loops;
`replicas.py` is each replica's heartbeat record, which `portside status` shows; `seen.py`
lets the leader's liveness hear the agents that sync with other replicas.
"""

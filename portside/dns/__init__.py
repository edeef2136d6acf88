"""Portside's DNS: the names of the resources it runs, served from memory, and every other
name forwarded to the host's resolvers.

    records.py   what a task's or a load balancer's document makes (pure)
    sources.py   the record sources (tasks, load balancers; Cloud Map later) on the store
    zone.py      the records held, by name; the zones answered with authority
    follower.py  the `dns` loop: the zone kept at the store's change feed
    answer.py    the answer to a parsed query (pure, given the zone)
    wire.py      the common query read from its bytes; cached answers replayed
    forward.py   other names to /etc/resolv.conf's nameservers
    server.py    UDP and TCP on the event loop
    plane.py     where it listens, and its wiring into the control plane
"""

"""Security groups enforced on this host: `compile.py` (a NetworkView as iptables chains;
pure) and `apply.py` (those chains written with iptables-restore, the jumps kept, the
chains of ENIs gone removed)."""

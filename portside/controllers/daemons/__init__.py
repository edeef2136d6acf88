"""The daemon controller (ECS Managed Daemons), one module per part.

- controller.py: the loop's step and one daemon's transaction: the DAEMON service scheduler's
  `compute` and `apply` (controllers/services/) over the daemon's scheduler value;
- rollout.py: a daemon deployment's state from its scheduler deployment's (pure).
"""

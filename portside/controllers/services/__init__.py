"""The service controller, one module per part.

- service.py: the loop's step and one service's transaction (read, compute, apply);
- service_facts.py: the store read as the reconcilers' facts; facts.py: facts and plans;
- replica.py, daemon.py: the reconcilers (pure), with rolling.py (min/max arithmetic, what
  counts as healthy), scale_in.py (which task to stop), circuit_breaker.py (failed-task
  threshold, rollback, launch throttle);
- apply.py: a plan applied (starts through ops/launch, stops through ops/tasks.stop);
- service_events.py: the service events in ECS's words.
"""

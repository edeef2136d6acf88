"""IAM enforced: every call of every service evaluated before it runs.

    edge.py         `authorize(op, signing_name, protocol, operation, params)`: the edge's
                    hook (api/app.py), and `Enforcer.decide` for the gateway and simulator
    identities.py   who a key speaks for and its policies, kept until IAM's tables change
    sources.py      a user's, group's or role's policies with their names, and boundaries
    resolver.py     the store's answers to the authorization mapping (task definitions by
                    family, resources' tags, secrets' ARNs), through each service's functions
    refusal.py      a refusal in each protocol's words (AccessDeniedException, AccessDenied,
                    UnauthorizedOperation with its encoded message)
    execution.py    a task's execution role asked for its secrets (the gateway's secrets desk)
    agents.py       an agent's key (its instance role) asked for the instances it serves

The decisions are `portside.iam.policy`'s; what each call authorizes is
`portside.iam.authorization`'s.
"""

from __future__ import annotations

# iam:SimulatePrincipalPolicy and SimulateCustomPolicy register on IAM's operations when
# enforcement is loaded (the edge loads it): they answer with enforcement's evaluator.
from portside.iam import simulate  # noqa: F401
from portside.iam.enforce.edge import Enforcer, authorize, enforcer, is_root

__all__ = ["Enforcer", "authorize", "enforcer", "is_root"]

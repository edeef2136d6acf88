"""ECS Exec: live sessions between a client and a container, relayed by the control plane."""

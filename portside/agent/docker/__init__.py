"""The Docker driver (driver.py) and its parts: what a container definition becomes
(config.py) and what Docker's answers mean (state.py), both pure; awsvpc networking
(network.py), task volumes (volumes.py), the task cgroup (cgroups.py), ECS Exec's processes
(exec.py)."""

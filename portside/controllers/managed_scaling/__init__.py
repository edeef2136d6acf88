"""ECS managed scaling: capacity providers whose Auto Scaling group grows for the tasks that
wait PROVISIONING and shrinks when its instances stand idle (see loop.py)."""

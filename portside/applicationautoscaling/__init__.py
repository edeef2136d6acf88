"""Application Auto Scaling for ECS services (`ecs:service:DesiredCount`)."""

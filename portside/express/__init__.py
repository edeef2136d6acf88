"""ECS Express Mode: one call makes a web service from an image (express/service.py), built
on Portside's ECS, ELB, CloudWatch Logs and Application Auto Scaling through their public
operations (express/resources.py); api/ecs/express.py is its wire edge."""

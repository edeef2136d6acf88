"""CodeDeploy, the subset ECS blue/green deployments use (json 1.1, target prefix
CodeDeploy_20141006): applications, deployment groups, deployment configurations and ECS
deployments from an AppSpec. The traffic shift itself is controllers/blue_green/'s."""

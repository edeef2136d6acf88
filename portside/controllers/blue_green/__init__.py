"""Blue/green deployments through the load balancer: CodeDeploy's ECS deployments (the green
task set behind the test listener, the production listener's weights shifted all at once,
canary or linear, the blue task set kept for the termination wait, rollback on failure)."""

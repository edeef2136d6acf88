"""ECS's native blue/green, linear and canary deployments (deploymentController ECS with
deploymentConfiguration.strategy BLUE_GREEN, LINEAR or CANARY): the new revision comes up in
full beside the old one, registered in the load balancer's alternate target group; the
production listener rule's weights move to it (all at once, in steps, or a canary then the
rest); both run for the bake time; then the old revision stops and the target groups have
swapped roles for the next deployment. No CodeDeploy and no task sets: the service
controller hands such a service's pass to `runner.run`.

rules.py     what CreateService/UpdateService accept (ECS's ranges, the advancedConfiguration
             a load balancer needs)
engine.py    one deployment's next move through ECS's lifecycle stages (pure)
hooks.py     lifecycle hooks: pauses that ContinueServiceDeployment ends (pure)
routing.py   target groups per deployment, listener rule weights
runner.py    the service controller's pass for such a service
"""

"""ECS's own CloudWatch metrics, from what the agents sample (agent/stats.py, kept by
prometheus/task_stats.py): `AWS/ECS` CPUUtilization and MemoryUtilization per service and
per cluster, and Container Insights' `ECS/ContainerInsights` metrics for the clusters whose
`containerInsights` setting is on. `usage.py` and `datums.py` are the pure parts (ECS's
definitions), `publisher.py` the loop that reads the store and the samples and publishes
through `cloudwatch/metrics.publish` every `metric_period` seconds.

It lives with the controllers, not in cloudwatch/: it is ECS's behaviour (ECS publishes to
CloudWatch as any client would, into namespaces callers may not use), and CloudWatch stays a
service that knows nothing of ECS.
"""

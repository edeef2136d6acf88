"""ECS's wire forms for every edge that speaks them: `api/` in its requests and responses,
`events/` in EventBridge events' details, and the Scheduler's RunTask targets, which the
schedule controller launches long after the request that carried them. They read and make
model types and know nothing else, so every edge imports downward (ecs_shapes.py: what
responses and events show; task_requests.py: RunTask/StartTask/ListTasks/ExecuteCommand
requests as values)."""

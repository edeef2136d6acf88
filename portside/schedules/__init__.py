"""Scheduled tasks: EventBridge Scheduler's schedules, run through RunTask.

expressions.py parses `at()`, `rate()` and `cron()` and finds occurrences (pure, zoneinfo);
model.py is the stored schedule; ops.py the API's operations; firing.py the pure decision of
what is due at a time; target.py turns a schedule's target into RunTask's parameters.
"""

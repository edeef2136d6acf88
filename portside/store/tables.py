"""Table definitions, shared by every backend.

Each table keeps the whole resource as a JSON document in `doc`, and copies the few fields
that lookups filter on into indexed columns. The document is the truth; the columns are
derived from it on every put (INDEXES says which document field feeds which column).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# table name -> {column: document field}
INDEXES: dict[str, dict[str, str]] = {
    "clusters": {"name": "clusterName", "status": "status"},
    "task_definitions": {"family": "family", "revision": "revision", "status": "status"},
    "tags": {},
    "account_settings": {"principal": "principalArn", "name": "name"},
    "attributes": {"cluster": "cluster", "target_id": "targetId", "name": "name"},
    "container_instances": {
        "cluster": "clusterArn",
        "status": "status",
        "fargate": "fargate",
        "version": "version",
    },
    "tasks": {
        "cluster": "clusterArn",
        "status": "lastStatus",
        "desired": "desiredStatus",
        "instance": "instanceArn",
        "started_by": "startedBy",
        "grp": "group",
        "token": "clientToken",
        "stopped_at": "stoppedAt",
        "version": "version",
    },
    "services": {"cluster": "clusterArn", "status": "status", "version": "version"},
    "capacity_providers": {"name": "name", "status": "status"},
    # EventBridge Scheduler (portside/schedules): keys are schedule and group ARNs.
    "schedules": {"grp": "groupName", "state": "state"},
    "schedule_groups": {"name": "name"},
    # EventBridge (portside/events): rules, their targets (key "RULE_ARN|ID"), connections and
    # API destinations by ARN; a target's delivery cursor (same key) kept apart from it.
    "event_rules": {"region": "region"},
    "event_targets": {"rule": "ruleArn"},
    "event_connections": {"region": "region"},
    "event_api_destinations": {"region": "region"},
    "event_cursors": {},
    # Elastic Load Balancing v2 (portside/elb/records.py): documents by ARN; a listener's
    # and a rule's ARN begin with their load balancer's path, so lookups are prefix scans.
    # Targets and the data plane's health observations by "TG_ARN|ID|PORT".
    "elb_load_balancers": {},
    "elb_target_groups": {},
    "elb_listeners": {},
    "elb_rules": {},
    "elb_targets": {},
    "elb_target_health": {},
    # ACM (portside/acm): imported certificates by ARN.
    "acm_certificates": {},
    # KMS (portside/kms/records.py): keys by key ARN (material wrapped by the master key),
    # aliases by alias ARN with their target's key id.
    "kms_keys": {},
    "kms_aliases": {"target": "TargetKeyId"},
    # Secrets Manager (portside/secretsmanager/records.py): secrets by ARN with their name
    # indexed; versions, their values sealed by KMS, by "SECRET_ARN|VERSION_ID".
    "sm_secrets": {"name": "Name"},
    "sm_secret_versions": {},
    # SSM Parameter Store (portside/ssm/records.py): parameters by "ACCOUNT|REGION|NAME" (no
    # leading slash: a path is a prefix scan) holding the newest version; older versions,
    # SecureString values sealed by KMS, by "PARAMETER_KEY|VERSION" (ten digits).
    "ssm_parameters": {},
    "ssm_parameter_versions": {},
    # ECR (portside/ecr/records.py): repositories by "ACCOUNT|REGION|NAME" with the name
    # indexed (one registry namespace per server); immutable tags' pins by "NAME|TAG".
    # Images are the registry's, never copied here.
    "ecr_repositories": {"name": "repositoryName"},
    "ecr_tag_pins": {},
    # The targets a service task registered (controllers/targets.py), by
    # "TASK_ARN|TG_ARN|ID|PORT": deregistered when the task stops or its service goes.
    "service_targets": {"service": "serviceArn"},
    # EC2 networking (portside/ec2/records.py): objects by "ACCOUNT|REGION|ID"; the account's
    # default VPC marker by "ACCOUNT|REGION". A group's rules are rows of their own (read by
    # group for enforcement; by referenced group before a delete); an ENI's address is
    # indexed with its subnet, so the allocator reads a subnet's addresses without documents.
    "ec2_accounts": {},
    "ec2_vpcs": {},
    "ec2_subnets": {"vpc": "VpcId"},
    "ec2_security_groups": {"vpc": "VpcId", "name": "GroupName"},
    "ec2_security_group_rules": {"grp": "GroupId", "ref": "ReferencedGroupId"},
    "ec2_network_interfaces": {
        "subnet": "SubnetId",
        "vpc": "VpcId",
        "address": "PrivateIpAddress",
    },
    "ec2_route_tables": {"vpc": "VpcId"},
    "ec2_network_acls": {"vpc": "VpcId"},
    # EC2 instances (portside/ec2/instance_records.py) by "ACCOUNT|REGION|ID", their state
    # and Auto Scaling group key indexed; launch templates by "ACCOUNT|REGION|ID" (name
    # indexed), their versions by "TEMPLATE_KEY|VERSION" (ten digits).
    "ec2_instances": {"state": "_State", "grp": "_Group"},
    "ec2_launch_templates": {"name": "LaunchTemplateName"},
    "ec2_launch_template_versions": {},
    # EC2 Auto Scaling (portside/autoscaling/records.py): groups by "ACCOUNT|REGION|NAME";
    # policies by "GROUP_KEY|NAME" (ARN indexed: alarms call by it); activities by
    # "GROUP_KEY|START|ID".
    "asg_groups": {},
    "asg_policies": {"arn": "PolicyARN"},
    "asg_activities": {},
    # IAM (portside/iam/records.py): entities by "ACCOUNT|lower-cased name"; attachments by
    # entity, memberships by user, access keys (by id) by owner.
    "iam_users": {},
    "iam_groups": {},
    "iam_roles": {},
    "iam_instance_profiles": {},
    "iam_policies": {},
    "iam_policy_versions": {},
    "iam_inline_policies": {},
    "iam_attachments": {"entity": "Entity"},
    "iam_memberships": {"member": "Member"},
    "iam_access_keys": {"owner": "Owner"},
    "iam_usage": {},
    # CloudWatch's alarm state changes as EventBridge events (cloudwatch/wiring.py), one row
    # per alarm ARN, rewritten at each transition: the change feed carries each one.
    "cw_alarm_events": {},
    # STS (portside/sts/credentials.py): temporary keys by access key id, by expiry.
    "sts_credentials": {"expires": "Expires"},
    # Application Auto Scaling (portside/applicationautoscaling/records.py): scalable targets
    # by "ACCOUNT|REGION|NAMESPACE|RESOURCE_ID|DIMENSION", their ARN indexed (tags); policies
    # (ARN indexed: alarms call by it), scheduled actions and activities under a target's key.
    "aas_targets": {"arn": "ScalableTargetARN"},
    "aas_policies": {"arn": "PolicyARN"},
    "aas_scheduled_actions": {},
    "aas_activities": {},
    # Cloud Map (portside/servicediscovery/records.py): namespaces, services, operations by
    # "ACCOUNT|REGION|ID"; instances by "SERVICE_KEY|INSTANCE_ID", an ECS task's by its task.
    "sd_namespaces": {"name": "Name"},
    "sd_services": {"namespace": "NamespaceId"},
    "sd_instances": {"task": "Task"},
    "sd_operations": {},
    # ECS Managed Daemons (portside/ops/daemons*.py): daemons, their revisions and deployments
    # by ARN (daemon task definitions are rows of `task_definitions`, under their own ARNs).
    "daemons": {"cluster": "clusterArn", "status": "status"},
    "daemon_revisions": {"daemon": "daemonArn"},
    "daemon_deployments": {"daemon": "daemonArn", "status": "status"},
    # ECS gateways (portside/ops/gateways*.py) by ARN; their cluster associations by
    # "GATEWAY_ARN|CLUSTER_ARN".
    "ecs_gateways": {"name": "name"},
    "ecs_gateway_associations": {"gateway": "gatewayArn", "cluster": "clusterArn"},
    # ECS-managed load balancers' host names (portside/ingress/albs.py), by host name.
    "ingress_hosts": {},
    # Gateway routes (portside/ops/gateway_routes.py): a connected service's route through a
    # gateway, by route ARN.
    "ecs_gateway_routes": {
        "gateway": "gatewayArn",
        "cluster": "clusterArn",
        "service": "serviceArn",
    },
    # ECS task sets (portside/ops/task_sets.py) by task set ARN, their service indexed.
    "ecs_task_sets": {"service": "serviceArn"},
    # CodeDeploy (portside/codedeploy/records.py): applications, deployment groups, custom
    # deployment configurations by "ACCOUNT|REGION|NAME" (a group under its application's
    # key); deployments by "ACCOUNT|REGION|ID", their status indexed for the engine's loop.
    "cd_applications": {},
    "cd_deployment_groups": {},
    "cd_deployment_configs": {},
    "cd_deployments": {"status": "status"},
}

_INT_COLUMNS = {"revision", "version", "expires"}
_FLOAT_COLUMNS = {"stopped_at"}
# Read only through a composite index below, or by key: no index of their own (each costs
# every write). Per table, or (the names) in every table.
_NO_OWN_INDEX = {"stopped_at", "version"}
_NO_OWN_INDEX_IN = {"tasks": {"grp"}}
# Flags, stored as 0/1 (a document's true/false; absent is NULL).
BOOL_COLUMNS = {"fargate"}
# Tables with a `version` column keep their documents' versions: a put over a stored document
# makes it the stored one plus one (store/sql.py), so no caller counts versions by hand.
VERSIONED = frozenset(name for name, cols in INDEXES.items() if "version" in cols)


def _table(name: str) -> Table:
    cols: list[Column[object]] = [Column("key", String(512), primary_key=True)]
    for col in INDEXES[name]:
        kind: Integer | Float | String = String(512)
        if col in _INT_COLUMNS | BOOL_COLUMNS:
            kind = Integer()
        elif col in _FLOAT_COLUMNS:
            kind = Float()
        cols.append(Column(col, kind, nullable=True))
    cols.append(Column("doc", Text, nullable=False))
    table = Table(name, metadata, *cols)
    for col in INDEXES[name]:
        if col not in _NO_OWN_INDEX and col not in _NO_OWN_INDEX_IN.get(name, ()):
            Index(f"ix_{name}_{col}", table.c[col])
    return table


TABLES: dict[str, Table] = {name: _table(name) for name in INDEXES}

# Lookups that filter on two columns at once, and the orders task definitions are read in:
# a family's newest ACTIVE revision, and ListTaskDefinitions' (family, revision) pages.
_td = TABLES["task_definitions"].c
# They end with the key, so such a read never touches the table (a covering index).
Index("ix_task_definitions_family_status_revision", _td.family, _td.status, _td.revision, _td.key)
Index("ix_task_definitions_status_family_revision", _td.status, _td.family, _td.revision, _td.key)
Index("ix_tasks_cluster_desired", TABLES["tasks"].c.cluster, TABLES["tasks"].c.desired)
# DescribeClusters' counts: tasks per state, instances per state in a cluster.
Index("ix_tasks_cluster_status", TABLES["tasks"].c.cluster, TABLES["tasks"].c.status)
# The maintenance loop's oldest STOPPED tasks first.
_t = TABLES["tasks"].c
Index("ix_tasks_status_stopped_at", _t.status, _t.stopped_at, _t.key)
# A group's (a service's) tasks: those not STOPPED, and those of some deployments stopped
# since an instant, read without touching the hour of stopped tasks the store keeps
# (ops/tasks.py `of_group`).
Index(
    "ix_tasks_cluster_grp_status_started_by_stopped_at",
    _t.cluster,
    _t.grp,
    _t.status,
    _t.started_by,
    _t.stopped_at,
    _t.key,
)
_ci = TABLES["container_instances"].c
Index("ix_container_instances_cluster_status", _ci.cluster, _ci.status, _ci.fargate)

changes = Table(
    "changes",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", Float, nullable=False),
    Column("tbl", String(64), nullable=False),
    Column("key", String(512), nullable=False),
    Column("op", String(8), nullable=False),
    Column("doc", Text, nullable=True),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(512), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Replicas and their leader (portside/cluster/records.py). Not documents and not on the change
# feed: a lease renewed every second and each replica's heartbeat would wake every watcher.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=True),
    Column("epoch", BigInteger, nullable=False),  # the fencing token: +1 per new holder
    Column("beat", BigInteger, nullable=False),  # +1 per renewal: what followers watch
    Column("expires", Float, nullable=False),  # the holder's wall clock
)

replicas = Table(
    "replicas",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("seen", Float, nullable=False),
    Column("doc", Text, nullable=False),
    # The instances its agents' sessions synced, ARN -> when: written every few seconds.
    Column("instances", Text, nullable=True),
)


def column_type(table: str, column: str) -> str:
    """The SQL type of an indexed column, as CAST spells it (SQLite and PostgreSQL alike)."""
    kind = metadata.tables[table].c[column].type
    if isinstance(kind, BigInteger):
        return "BIGINT"
    if isinstance(kind, Integer):
        return "INTEGER"
    if isinstance(kind, Float):
        return "DOUBLE PRECISION"
    return "TEXT"

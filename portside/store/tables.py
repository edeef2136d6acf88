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
    "container_instances": {"cluster": "clusterArn", "status": "status"},
    "tasks": {
        "cluster": "clusterArn",
        "status": "lastStatus",
        "desired": "desiredStatus",
        "instance": "instanceArn",
        "started_by": "startedBy",
        "grp": "group",
        "token": "clientToken",
    },
    "services": {"cluster": "clusterArn", "status": "status"},
    "capacity_providers": {"name": "name", "status": "status"},
}

_INT_COLUMNS = {"revision"}


def _table(name: str) -> Table:
    cols: list[Column[object]] = [Column("key", String(512), primary_key=True)]
    for col in INDEXES[name]:
        kind = Integer() if col in _INT_COLUMNS else String(512)
        cols.append(Column(col, kind, nullable=True))
    cols.append(Column("doc", Text, nullable=False))
    table = Table(name, metadata, *cols)
    for col in INDEXES[name]:
        Index(f"ix_{name}_{col}", table.c[col])
    return table


TABLES: dict[str, Table] = {name: _table(name) for name in INDEXES}

# Lookups that filter on two columns at once.
Index(
    "ix_task_definitions_family_status",
    TABLES["task_definitions"].c.family,
    TABLES["task_definitions"].c.status,
)
Index("ix_tasks_cluster_desired", TABLES["tasks"].c.cluster, TABLES["tasks"].c.desired)

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

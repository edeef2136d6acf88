"""Bring an existing database up to the tables this version defines.

`create_all` makes missing tables (with their indexes) but leaves existing ones alone. A data
directory written by an earlier version gets, here: the indexed columns added since, filled
from the documents they derive from; the indexes added since; and the indexes no longer
defined dropped (they would cost every write and can mislead the query planner).
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from portside.store.tables import BOOL_COLUMNS, INDEXES, TABLES, metadata


def upgrade(engine: Engine) -> None:
    metadata.create_all(engine)
    found = inspect(engine)
    with engine.begin() as conn:
        for name, table in TABLES.items():
            have = {c["name"] for c in found.get_columns(name)}
            for column, field in INDEXES[name].items():
                if column in have:
                    continue
                kind = table.c[column].type.compile(engine.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {column} {kind}")
                value = f"json_extract(doc, '$.{field}')"
                if column in BOOL_COLUMNS:
                    value = f"CASE WHEN {value} THEN 1 WHEN {value} IS NULL THEN NULL ELSE 0 END"
                conn.exec_driver_sql(f"UPDATE {name} SET {column} = {value}")
            wanted = {ix.name for ix in table.indexes}
            for index in found.get_indexes(name):
                if (
                    index["name"]
                    and index["name"].startswith("ix_")
                    and (index["name"] not in wanted)
                ):
                    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index['name']}")
    for table in TABLES.values():
        for defined in sorted(table.indexes, key=lambda ix: str(ix.name)):
            defined.create(engine, checkfirst=True)

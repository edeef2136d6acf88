"""`portside migrate --from DATA_DIR --to postgresql://...`: copy a single-host installation's
state into an empty PostgreSQL database, for replicas to run on.

What is copied, from one read snapshot of each SQLite file (the server may keep running; what
it writes after the snapshot is not copied, so stop it first for a cut-over):

- the store (portside.db): every table's documents, their indexed columns computed afresh
  from the documents (so a data directory of an earlier version is copied whole), the
  counters, and the change feed with its seqs (event delivery's cursors point into it; the
  sequence continues past the newest);
- the CloudWatch Logs store (logs.db): groups, streams and events, with their ids and the
  event counter;
- the metric store (metrics.db), when the server keeps metrics on PostgreSQL.

All of it is written in one PostgreSQL transaction: a failed copy leaves the target as it
was. A target that already holds state is refused (a second copy would mix two histories).
What stays in the data directory is the host's own: credentials, the KMS master key, the
ECR registry's blobs; replicas need the same credentials and master key (copy those files).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import click

from portside.store.sql import _Statements
from portside.store.tables import INDEXES

_BATCH = 1000


class MigrateError(Exception):
    """Why a migration was refused or failed (nothing was written)."""


def _source(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30)
    conn.execute("BEGIN")  # one read snapshot of the whole file
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _batches(cur: sqlite3.Cursor) -> Iterator[list[Any]]:
    while rows := cur.fetchmany(_BATCH):
        yield rows


def _copy(pg: Any, src: sqlite3.Connection, select: str, insert: str) -> int:
    copied = 0
    with pg.cursor() as out:
        for rows in _batches(src.execute(select)):
            out.executemany(insert, rows)
            copied += len(rows)
    return copied


def _set_sequence(pg: Any, table: str, column: str) -> None:
    pg.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
        f"GREATEST((SELECT MAX({column}) FROM {table}), 1))"
    )


def _empty(pg: Any, tables: Sequence[str]) -> list[str]:
    return [t for t in tables if pg.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() is not None]


def migrate(data_dir: Path, url: str, echo: Any = print) -> dict[str, int]:
    """Copy `data_dir`'s state into the database at `url`; what was copied, per kind."""
    import psycopg

    from portside.logs.postgres import SCHEMA as LOGS
    from portside.logs.postgres import PostgresLogStore
    from portside.store.postgresql import PostgresStore

    store_db = data_dir / "portside.db"
    if not store_db.exists():
        raise MigrateError(f"{data_dir} holds no Portside state (no portside.db)")
    # The tables, made (or upgraded) as a server would make them.
    PostgresStore(url).close()
    PostgresLogStore(url).close()
    metrics = _metrics_tables(url)
    counts: dict[str, int] = {}
    with psycopg.connect(url) as pg:  # one transaction, committed at the end of the block
        mine = [*INDEXES, "changes", "counters"]
        logs = [f"{LOGS}.groups", f"{LOGS}.streams", f"{LOGS}.events", f"{LOGS}.meta"]
        full = _empty(pg, [*mine, *logs, *(metrics.tables if metrics else ())])
        if full:
            raise MigrateError(
                f"the target database already holds Portside state ({', '.join(full[:5])}): "
                "migrate into an empty database"
            )
        with closing(_source(store_db)) as src:
            have = _tables(src)
            for table in INDEXES:
                if table not in have:
                    continue
                counts[table] = _copy_documents(pg, src, table)
            if "counters" in have:
                counts["counters"] = _copy(
                    pg,
                    src,
                    "SELECT name, value FROM counters",
                    "INSERT INTO counters (name, value) VALUES (%s, %s)",
                )
            counts["changes"] = _copy(
                pg,
                src,
                "SELECT seq, at, tbl, key, op, doc FROM changes ORDER BY seq",
                "INSERT INTO changes (seq, at, tbl, key, op, doc) VALUES (%s, %s, %s, %s, %s, %s)",
            )
            _set_sequence(pg, "changes", "seq")
        logs_db = data_dir / "logs.db"
        if logs_db.exists():
            with closing(_source(logs_db)) as src:
                counts.update(_copy_logs(pg, src, LOGS))
        metrics_db = data_dir / "metrics.db"
        if metrics and metrics_db.exists():
            with closing(_source(metrics_db)) as src:
                counts.update(metrics.copy(pg, src))
    for kind, n in counts.items():
        if n:
            echo(f"{kind}: {n}")
    return counts


def _copy_documents(pg: Any, src: sqlite3.Connection, table: str) -> int:
    import orjson

    sql = _Statements(table, "%s")
    cols = ["key", *sql.cols, "doc"]
    insert = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    copied = 0
    with pg.cursor() as out:
        for rows in _batches(src.execute(f"SELECT key, doc FROM {table} ORDER BY key")):
            out.executemany(insert, [(k, *sql.values(orjson.loads(d)), d) for k, d in rows])
            copied += len(rows)
    return copied


def _copy_logs(pg: Any, src: sqlite3.Connection, schema: str) -> dict[str, int]:
    have = _tables(src)
    if "groups" not in have:
        return {}
    counts = {
        "log groups": _copy(
            pg,
            src,
            "SELECT id, name, created, retention, tags, class FROM groups",
            f"INSERT INTO {schema}.groups (id, name, created, retention, tags, class) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
        ),
        "log streams": _copy(
            pg,
            src,
            "SELECT id, group_id, name, created, first_ts, last_ts, last_ingest, stored_bytes, "
            "shipped FROM streams",
            f"INSERT INTO {schema}.streams (id, group_id, name, created, first_ts, last_ts, "
            "last_ingest, stored_bytes, shipped) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        ),
    }
    copied = 0
    with pg.cursor() as out:
        cur = src.execute("SELECT stream_id, timestamp, seq, ingestion, message FROM events")
        for rows in _batches(cur):
            out.executemany(
                f"INSERT INTO {schema}.events (stream_id, timestamp, seq, ingestion, message) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(s, t, q, i, m.replace("\x00", "\ufffd")) for s, t, q, i, m in rows],
            )
            copied += len(rows)
    counts["log events"] = copied
    # The event counter: the newest seq handed out, whether or not its event is still kept.
    row = src.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
    top = src.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
    pg.execute(
        f"INSERT INTO {schema}.meta (key, value) VALUES ('seq', %s)",
        (max(int(row[0]) if row else 0, int(top)),),
    )
    for table in ("groups", "streams"):
        _set_sequence(pg, f"{schema}.{table}", "id")
    return counts


def _metrics_tables(url: str) -> Any:
    """The metric store's copier when the metric store runs on PostgreSQL, else None."""
    try:
        from portside.cloudwatch.postgres import Migration
    except ImportError:
        return None
    return Migration(url)


@click.command()
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The data directory of the SQLite installation to copy.",
)
@click.option(
    "--to",
    "target",
    required=True,
    help="The PostgreSQL database to copy it into (postgresql://...), which must be empty.",
)
def migrate_command(source: Path, target: str) -> None:
    """Copy a single-host installation's state (SQLite) into PostgreSQL, for replicas."""
    from portside.store.postgresql import is_postgres_url

    if not is_postgres_url(target):
        raise click.BadParameter("must be a PostgreSQL URL (postgresql://...)", param_hint="--to")
    try:
        migrate(source, target, echo=click.echo)
    except MigrateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"migrated {source} to the PostgreSQL database; run the servers with --database")
    keys = [f for f in ("credentials.json", "master.key") if (source / f).exists()]
    if keys:
        click.echo(
            f"copy {' and '.join(keys)} from {source} into every replica's data directory "
            "(or set PORTSIDE_ACCESS_KEY_ID, PORTSIDE_SECRET_ACCESS_KEY and "
            "PORTSIDE_MASTER_KEY alike): the admin key and the KMS master key are not in the "
            "database, and every replica needs the same ones"
        )


migrate_command.name = "migrate"

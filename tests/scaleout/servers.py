"""Throwaway PgBouncer and Redis Sentinel servers for the scale-out tests (the RabbitMQ node,
which tests outside this folder use too, is in ``tests/fixtures/brokers.py``).

Each runs from its Debian package's binary (``make test`` installs the packages) on free loopback
ports, with everything under one temporary folder, and is stopped by its fixture. As root,
PgBouncer runs as the ``postgres`` user (it refuses root).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tests.fixtures.servers import Server, binary, free_port

__all__ = [
    "PgBouncer",
    "RedisSentinel",
    "RedisServer",
    "SentinelGroup",
    "Server",
    "binary",
    "free_port",
    "pg_direct",
    "pgbouncer_in_front",
    "redis_users_probe",
]


def _owned_by_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for p in (path, *path.rglob("*")):
            os.chown(p, user.pw_uid, user.pw_gid)


class PgBouncer(Server):
    """PgBouncer in transaction-pooling mode in front of one PostgreSQL.

    It logs in to PostgreSQL as ``server_user`` whatever the client's name, so that
    ``pg_stat_activity.usename`` tells sessions through PgBouncer from direct ones."""

    server_user = "loyalty_pool"

    @classmethod
    def start(
        cls, base: Path, *, pg_host: str, pg_port: int, admin: str, server_user: str = ""
    ) -> PgBouncer:
        base.mkdir(parents=True, exist_ok=True)
        bouncer = cls(name="pgbouncer", dir=base, port=free_port())
        (base / "userlist.txt").write_text(f'"{admin}" ""\n')
        (base / "pgbouncer.ini").write_text(
            f"""[databases]
* = host={pg_host} port={pg_port} user={server_user or cls.server_user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {bouncer.port}
unix_socket_dir =
auth_type = trust
auth_file = {base}/userlist.txt
admin_users = {admin}
pool_mode = transaction
default_pool_size = 20
max_client_conn = 400
server_reset_query =
; retry a failed server login after 1 s, not the default 15 s: after a PostgreSQL restart the
; pool would otherwise answer every client "server login has been failing" for up to 15 s more
; (docs/scaling.md, PgBouncer)
server_login_retry = 1
; /health's database check sends statement_timeout as a startup option
ignore_startup_parameters = extra_float_digits,options
logfile = {base}/pgbouncer.log
pidfile = {base}/pgbouncer.pid
"""
        )
        base.chmod(0o755)
        _owned_by_postgres(base)
        argv = [binary("pgbouncer", "/usr/sbin/pgbouncer")]
        if os.geteuid() == 0:
            argv += ["-u", "postgres"]
        bouncer.spawn([*argv, str(base / "pgbouncer.ini")])
        bouncer.wait_ready()
        return bouncer

    def url(self, user: str, password: str, dbname: str) -> str:
        return f"postgres://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def admin_show(self, admin: str, what: str) -> list[dict[str, str]]:
        """``SHOW <what>`` on the admin console (simple query protocol only, hence psql)."""
        result = subprocess.run(
            [
                binary("psql", *map(str, sorted(Path("/usr/lib/postgresql").glob("*/bin/psql")))),
                "-X",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                admin,
                "-d",
                "pgbouncer",
                "-A",
                "-F",
                "\t",
                "-c",
                f"SHOW {what}",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        lines = [line for line in result.stdout.splitlines() if line and not line.startswith("(")]
        header = lines[0].split("\t")
        return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:]]


def pg_direct(db: Mapping[str, Any], dbname: str | None = None) -> psycopg.Connection[Any]:
    """An autocommit connection straight to the PostgreSQL of Django database entry ``db``."""
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=dbname or db["NAME"],
        autocommit=True,
    )


@contextmanager
def pgbouncer_in_front(
    db: Mapping[str, Any], base: Path, *, pool_user: str = PgBouncer.server_user
) -> Iterator[PgBouncer]:
    """A PgBouncer in front of the PostgreSQL of Django database entry ``db``, logging in there as
    ``pool_user``: a role created first (a member of ``db``'s owner: the same privileges, another
    name) and dropped once PgBouncer stopped and its sessions are gone."""
    with pg_direct(db) as conn:
        conn.execute(
            f"DO $$ BEGIN CREATE ROLE {pool_user} LOGIN IN ROLE {db['USER']}; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)  # PgBouncer runs as the postgres user and must reach its folder
    bouncer = PgBouncer.start(
        base, pg_host=db["HOST"], pg_port=int(db["PORT"]), admin=db["USER"], server_user=pool_user
    )
    try:
        yield bouncer
    finally:
        bouncer.stop()
        with pg_direct(db) as conn:
            deadline = time.monotonic() + 10
            alive = "SELECT count(*) FROM pg_stat_activity WHERE usename = %s"
            while conn.execute(alive, [pool_user]).fetchone()[0] and time.monotonic() < deadline:  # type: ignore[index]
                time.sleep(0.1)
            conn.execute(f"DROP ROLE IF EXISTS {pool_user}")


class RedisSentinel(Server):
    """One Redis Sentinel monitoring one Redis as master ``master``."""

    master = "loyalty-master"

    @classmethod
    def start(cls, base: Path, *, redis_port: int) -> RedisSentinel:
        base.mkdir(parents=True, exist_ok=True)
        sentinel = cls(name="redis-sentinel", dir=base, port=free_port())
        conf = base / "sentinel.conf"  # Sentinel rewrites its own file: a private copy
        conf.write_text(
            f"""bind 127.0.0.1
port {sentinel.port}
daemonize no
dir {base}
logfile {base}/sentinel.log
sentinel monitor {cls.master} 127.0.0.1 {redis_port} 1
sentinel down-after-milliseconds {cls.master} 5000
"""
        )
        sentinel.spawn([binary("redis-sentinel", "/usr/bin/redis-sentinel"), str(conf)])
        sentinel.wait_ready(lambda: sentinel.master_address() == ("127.0.0.1", redis_port))
        return sentinel

    def master_address(self) -> tuple[str, int] | None:
        import redis

        try:
            client = redis.Redis(port=self.port, socket_timeout=1, decode_responses=True)
            answer = client.sentinel_get_master_addr_by_name(self.master)
        except redis.RedisError:
            return None
        return (answer[0], int(answer[1])) if answer else None


class RedisServer(Server):
    """A throwaway redis-server (no persistence), optionally a replica of ``replica_of``."""

    @classmethod
    def start(cls, base: Path, *, name: str, replica_of: int | None = None) -> RedisServer:
        base.mkdir(parents=True, exist_ok=True)
        server = cls(name=name, dir=base, port=free_port())
        argv = [
            binary("redis-server", "/usr/bin/redis-server"),
            "--bind", "127.0.0.1", "--port", str(server.port), "--dir", str(base),
            "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]  # fmt: skip
        if replica_of is not None:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        server.spawn(argv)
        server.wait_ready()
        return server

    def info(self, section: str) -> dict[str, str]:
        import redis

        raw = redis.Redis(port=self.port, socket_timeout=2, decode_responses=True).info(section)
        return {k: str(v) for k, v in raw.items()}


@dataclass
class SentinelGroup:
    """A master, one replica and three Sentinels (quorum 2) watching them, all on loopback."""

    master: RedisServer
    replica: RedisServer
    sentinels: list[Server]
    name: str = "loyalty-failover"

    @classmethod
    def start(cls, base: Path) -> SentinelGroup:
        master = RedisServer.start(base / "master", name="redis-master")
        replica = RedisServer.start(base / "replica", name="redis-replica", replica_of=master.port)
        group = cls(master=master, replica=replica, sentinels=[])
        for n in range(3):
            folder = base / f"sentinel-{n}"
            folder.mkdir(parents=True, exist_ok=True)
            sentinel = Server(name=f"sentinel-{n}", dir=folder, port=free_port())
            conf = folder / "sentinel.conf"
            conf.write_text(
                f"""bind 127.0.0.1
port {sentinel.port}
daemonize no
dir {folder}
logfile {folder}/sentinel.log
sentinel monitor {group.name} 127.0.0.1 {master.port} 2
sentinel down-after-milliseconds {group.name} 5000
sentinel failover-timeout {group.name} 20000
"""
            )
            sentinel.spawn([binary("redis-sentinel", "/usr/bin/redis-sentinel"), str(conf)])
            group.sentinels.append(sentinel)
        for sentinel in group.sentinels:
            # Ready when it knows the replica and the two other Sentinels (hello messages).
            sentinel.wait_ready(lambda s=sentinel: group._knows_everyone(s.port))
        return group

    def _client(self, port: int) -> object:
        import redis

        return redis.Redis(port=port, socket_timeout=2, decode_responses=True)

    def _knows_everyone(self, port: int) -> bool:
        import redis

        client = self._client(port)
        try:
            replicas = client.sentinel_slaves(self.name)  # type: ignore[attr-defined]
            others = client.sentinel_sentinels(self.name)  # type: ignore[attr-defined]
        except redis.RedisError:
            return False
        linked = [r for r in replicas if r.get("master-link-status") == "ok"]
        return bool(linked) and len(others) == 2

    def master_address(self, port: int | None = None) -> tuple[str, int] | None:
        import redis

        try:
            answer = self._client(port or self.sentinels[0].port).sentinel_get_master_addr_by_name(  # type: ignore[attr-defined]
                self.name
            )
        except redis.RedisError:
            return None
        return (answer[0], int(answer[1])) if answer else None

    def failover(self) -> None:
        """``SENTINEL FAILOVER``: the replica is promoted without asking for agreement."""
        self._client(self.sentinels[0].port).execute_command("SENTINEL", "FAILOVER", self.name)  # type: ignore[attr-defined]

    @property
    def env(self) -> dict[str, str]:
        return {
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # host and port ignored
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
            "REDIS_SENTINEL_MASTER": self.name,
        }

    def stop(self) -> None:
        for server in (*self.sentinels, self.replica, self.master):
            server.stop()


#: What a Django process configured like the stack does with Redis: a cache write and read, one
#: Telegram-limiter ticket; printed so that ``redis_users_probe`` can check both went through.
_PROBE = textwrap.dedent(
    """
    import time
    from django.core.cache import cache
    from notifications.limiter import send_rate_limiter
    cache.set({key!r}, {value!r}, 60)
    print("cache", cache.get({key!r}))
    limiter = send_rate_limiter()
    ticket = limiter.acquire(bot={bot!r}, chat_id=7, deadline=time.monotonic() + 5)
    limiter.release(ticket)
    print("limiter", type(limiter.backend).__name__)
    """
)


def redis_users_probe(env: dict[str, str], *, key: str, value: str, bot: str) -> None:
    """Use the cache and the Telegram limiter from a fresh ``manage.py shell`` run with ``env`` and
    assert both answered through Redis (the caller checks on which server the keys landed)."""
    shell = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-v",
            "0",
            "-c",
            _PROBE.format(key=key, value=value, bot=bot),
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.returncode == 0, shell.stderr
    assert f"cache {value}" in shell.stdout and "limiter RedisBackend" in shell.stdout, shell.stdout

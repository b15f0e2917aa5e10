"""Throwaway PgBouncer, Redis Sentinel and RabbitMQ servers for the scale-out tests.

Each runs from its Debian package's binary (``make test`` installs the packages) on free loopback
ports, with everything under one temporary folder, and is stopped by its fixture. As root,
PgBouncer runs as the ``postgres`` user (it refuses root); RabbitMQ gets its own Erlang cookie and
its own epmd port so that it shares nothing with other nodes on the machine.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Longest wait for a server to accept connections (RabbitMQ boots in ~10 s on a busy machine).
START_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name: str, *candidates: str) -> str:
    """Path of a server binary, or a failure that says how to get it."""
    for path in (shutil.which(name), *candidates):
        if path and os.access(path, os.X_OK):
            return path
    raise AssertionError(f"{name} is not installed; `make test` installs it (apt-get)")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Server:
    """One server process in its own session, its output in ``log``."""

    name: str
    dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.dir / f"{self.name}.out"

    def spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, ready: object = None) -> None:
        """Until the port accepts connections (and ``ready()`` is true, when given)."""
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            if _accepts(self.port) and (ready is None or ready()):  # type: ignore[operator]
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start in time:\n{self.tail()}")
            time.sleep(0.1)

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-30:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


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
    def start(cls, base: Path, *, pg_host: str, pg_port: int, admin: str) -> PgBouncer:
        base.mkdir(parents=True, exist_ok=True)
        bouncer = cls(name="pgbouncer", dir=base, port=free_port())
        (base / "userlist.txt").write_text(f'"{admin}" ""\n')
        (base / "pgbouncer.ini").write_text(
            f"""[databases]
* = host={pg_host} port={pg_port} user={cls.server_user}

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


class RabbitMQ(Server):
    """A throwaway RabbitMQ node: its own node name, ports, cookie, data and logs under ``dir``."""

    epmd_port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, base: Path) -> RabbitMQ:
        base.mkdir(parents=True, exist_ok=True)
        rabbit = cls(name="rabbitmq", dir=base, port=free_port())
        rabbit.epmd_port = free_port()
        cookie = base / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20).upper())
        cookie.chmod(0o400)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text("loopback_users.guest = true\n")
        (base / "rabbitmq-env.conf").write_text("")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(base),  # the Erlang cookie is read from $HOME
            "RABBITMQ_NODENAME": f"loyalty-test-{secrets.token_hex(4)}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(rabbit.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "ERL_EPMD_PORT": str(rabbit.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
            # Erlang distribution on loopback only.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        binary("rabbitmq-server", "/usr/sbin/rabbitmq-server")  # the package is there
        # Debian's /usr/sbin/rabbitmq-server is a wrapper that switches to the rabbitmq user and
        # its folders; the script behind it runs the node as it is told.
        real = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        assert real.exists(), f"{real} not found (rabbitmq-server package layout changed?)"
        rabbit.env = env
        rabbit.spawn([str(real)], env=env)
        rabbit.wait_ready(rabbit._amqp_ready)
        return rabbit

    def restart(self) -> None:
        """Stop the node (SIGTERM: a clean shutdown) and start it again on the same node name,
        ports and data: durable queues and persistent messages survive."""
        self.stop()
        self.spawn([str(Path("/usr/lib/rabbitmq/bin/rabbitmq-server"))], env=self.env)
        self.wait_ready(self._amqp_ready)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _amqp_ready(self) -> bool:
        import pika

        try:
            pika.BlockingConnection(pika.URLParameters(self.url + "?socket_timeout=2")).close()
        except pika.exceptions.AMQPError:
            return False
        return True

    def queue_messages(self, queue: str) -> int:
        """Messages ready in ``queue`` (fails when RabbitMQ has no such queue)."""
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            declared = connection.channel().queue_declare(queue, passive=True)
            return int(declared.method.message_count)
        finally:
            connection.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        super().stop(sig)
        # The node started its own epmd on our port; it outlives the node unless told.
        subprocess.run(
            ["epmd", "-kill"],
            env={**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)},
            capture_output=True,
            timeout=10,
            check=False,
        )


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

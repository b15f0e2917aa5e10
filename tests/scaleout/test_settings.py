"""The scale-out variables are validated at start-up (one line naming the variable) and select
what CONTRACT says."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import redis
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config.env import EnvReader
from tests.fixtures.processes import ROOT


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    child.update({"SECRET_KEY": "x" * 40, "DEBUG": "0", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=child,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_host_ports_reader():
    env = EnvReader(
        {"S": " a:26379, [::1]:26380 ,sentinel-3:1", "BAD": "a:26379,b", "NOPORT": "a:"}
    )
    assert env.host_ports("S") == [("a", 26379), ("::1", 26380), ("sentinel-3", 1)]
    assert env.host_ports("UNSET") == []
    with pytest.raises(ImproperlyConfigured, match=r"BAD must be comma-separated host:port.*'b'"):
        env.host_ports("BAD")
    with pytest.raises(ImproperlyConfigured, match="NOPORT must be"):
        env.host_ports("NOPORT")


def test_fernet_keys_reader_never_echoes_a_key():
    one, two = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = EnvReader({"K": f"{one}, {two}", "SAME": f"{one},{one}", "BAD": f"{one},{two[:-1]}"})
    assert env.fernet_keys("K") == [one, two]
    assert env.fernet_keys("UNSET") == []
    with pytest.raises(ImproperlyConfigured, match="SAME lists the same key twice"):
        env.fernet_keys("SAME")
    with pytest.raises(ImproperlyConfigured, match="key 2 is not one") as caught:
        env.fernet_keys("BAD")
    assert two[:10] not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"DRAMATIQ_BROKER_URL": "kafka://broker:9092"},
            "DRAMATIQ_BROKER_URL must be a URL starting with amqp://",
        ),
        (
            {"REDIS_SENTINELS": "127.0.0.1:26379", "REDIS_SENTINEL_MASTER": ""},
            "REDIS_SENTINELS and REDIS_SENTINEL_MASTER must be set together",
        ),
        ({"OUTBOX_ENCRYPTION_KEYS": "not-a-fernet-key"}, "OUTBOX_ENCRYPTION_KEYS must be"),
    ],
)
def test_startup_stops_with_one_line(env, expected):
    result = manage("check", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_redis_broker_url_selects_the_redis_broker_on_that_url():
    base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
    probe = redis.Redis.from_url(f"{base}/5")
    probe.flushdb()
    script = textwrap.dedent(
        """
        import dramatiq
        from dramatiq import Message
        broker = dramatiq.get_broker()
        broker.declare_queue("scaleout_probe")
        broker.enqueue(Message(queue_name="scaleout_probe", actor_name="probe", args=(),
                               kwargs={}, options={}))
        print(type(broker).__name__, broker.client.connection_pool.connection_kwargs["db"])
        """
    )
    result = manage("shell", "-v", "0", "-c", script, DRAMATIQ_BROKER_URL=f"{base}/5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RedisBroker", "5"]
    assert probe.hlen("dramatiq:scaleout_probe.msgs") == 1
    probe.flushdb()

"""scripts/deploy.sh with a stub `docker` first on PATH.

The stub records every call (with the IMAGE_TAG it was given) and can be told to fail on a word
of its command line (STUB_FAIL_ON="deploy_gate"); the smoke check runs for real against a fake API.
"""

from __future__ import annotations

import fcntl
import stat
from pathlib import Path

import pytest

from .conftest import run_script

STUB_DOCKER = r"""#!/usr/bin/env bash
printf '%s|IMAGE_TAG=%s\n' "$*" "${IMAGE_TAG:-}" >>"$STUB_CALLS"
if [[ -n ${STUB_FAIL_ON:-} && " $* " == *" $STUB_FAIL_ON "* ]]; then
  echo "stub docker: failing on $STUB_FAIL_ON" >&2
  exit 1
fi
case " $* " in
  " compose version ") echo "Docker Compose version v2.27.0" ;;
  *" image inspect "* | *" pull "*) [[ ${STUB_NO_IMAGE:-0} == 1 ]] && exit 1 ;;
  *" pg_dump "*)
    printf -- '-- dump\nCREATE TABLE t (id int);\n'
    printf -- '-- PostgreSQL database dump complete\n\n' ;;
  *"server_version"*) echo "15.4" ;;
  *" showmigrations "*)
    printf '[X]  loyalty.0001_initial\n[X]  outbox.0001_initial\n'
    printf '[ ]  outbox.0002_pause\n' ;;
  *" ps -q api "*) [[ -n ${STUB_RUNNING_TAG:-} ]] && echo c0ffee ;;
  *" ps -q --status running "*) printf 'a\nb\n' ;;
  *" inspect "*) echo "registry.example:5000/loyalty-platform:${STUB_RUNNING_TAG}" ;;
esac
exit 0
"""

SECRET = "s3cret-key-value-that-must-not-leak-0123456789abcdef"
TOKEN = "metrics-token-value-never-printed"


@pytest.fixture
def site(tmp_path: Path, fake_ops):
    """A deployment folder with .env.staging, a compose file and the stub docker on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(STUB_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    work = tmp_path / "site"
    work.mkdir()
    (work / ".env.staging").write_text(
        f"SECRET_KEY={SECRET}\n"
        "DATABASE_URL=postgres://loyalty:pw@postgres:5432/loyalty\n"
        "REDIS_URL=redis://redis:6379/0\n"
        "ALLOWED_HOSTS=api.example.com\n"
        f"METRICS_TOKEN={TOKEN}\n"
        "IMAGE_TAG=v1\n"
        "# trailing comment\n"
    )
    (work / ".env.staging").chmod(0o600)
    (work / "docker-compose.staging.yml").write_text("services: {}\n")
    fake_ops.metrics_token = TOKEN
    calls = tmp_path / "calls.log"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "STUB_CALLS": str(calls),
        "BASE_URL": fake_ops.base_url,
        "BACKUP_DIR": str(tmp_path / "backups"),
    }

    class Site:
        dir = work
        ops = fake_ops

        @staticmethod
        def run(*args: str, **extra: str):
            return run_script("deploy.sh", "staging", *args, env={**env, **extra}, cwd=work)

        @staticmethod
        def calls() -> list[str]:
            return calls.read_text().splitlines() if calls.exists() else []

        @staticmethod
        def called(word: str) -> bool:
            return any(f" {word} " in f" {c.split('|')[0]} " for c in Site.calls())

        @staticmethod
        def state(name: str) -> str:
            path = work / ".deploy" / f"staging.{name}"
            return path.read_text().strip() if path.exists() else ""

        @staticmethod
        def env_tag() -> list[str]:
            return [
                ln
                for ln in (work / ".env.staging").read_text().splitlines()
                if ln.startswith("IMAGE_TAG=")
            ]

    return Site


DEPLOY_STEPS = [
    "env-file",
    "env-vars",
    "compose-config",
    "image",
    "backup",
    "migrate",
    "deploy-gate",
    "start",
    "smoke-check",
]


def test_deploy_runs_every_step_in_order(site):
    result = site.run("deploy", IMAGE_TAG="v2", STUB_RUNNING_TAG="v1")

    assert result.returncode == 0, result.output
    printed = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("[")]
    # backup.sh and smoke-check.sh print their own steps (indented) in between.
    assert [s for s in printed if s in DEPLOY_STEPS] == DEPLOY_STEPS
    for step in DEPLOY_STEPS:
        assert result.line(step).startswith("[ok]"), result.stdout
    markers = [
        "config -q",
        "image inspect loyalty-platform:v2",
        "pg_dump",
        "run --rm api python manage.py migrate --noinput",
        "run --rm api python manage.py deploy_gate",
        "up -d --wait",
    ]
    calls = site.calls()
    positions = [next(i for i, c in enumerate(calls) if m in c) for m in markers]
    assert positions == sorted(positions), calls
    for call in calls:
        if "migrate" in call or "deploy_gate" in call or " up " in f" {call} ":
            assert call.endswith("IMAGE_TAG=v2"), call
        assert call.startswith(
            "compose --env-file .env.staging -f docker-compose.staging.yml"
        ) or call.startswith(("image inspect", "inspect", "compose version"))
    assert site.state("previous_tag") == "v1"
    assert site.state("current_tag") == "v2"
    assert site.env_tag() == ["IMAGE_TAG=v2"]
    assert oct((site.dir / ".env.staging").stat().st_mode & 0o777) == "0o600"
    backups = list((site.dir.parent / "backups").glob("backup_*.sql.gz"))
    assert len(backups) == 1 and str(backups[0]) in result.line("backup")
    assert "replaced v1" in result.line("start")
    assert SECRET not in result.output and TOKEN not in result.output
    assert [c["path"] for c in site.ops.calls][:3] == ["/health", "/ready", "/live"]


@pytest.mark.parametrize(
    ("fail_on", "step"),
    [
        ("config", "compose-config"),
        ("pg_dump", "backup"),
        ("migrate", "migrate"),
        ("deploy_gate", "deploy-gate"),
        ("up", "start"),
    ],
)
def test_a_failing_step_stops_the_deploy(site, fail_on, step):
    result = site.run("deploy", IMAGE_TAG="v2", STUB_RUNNING_TAG="v1", STUB_FAIL_ON=fail_on)

    assert result.returncode != 0
    assert result.line(step).startswith("[fail]"), result.stdout
    assert "next:" in result.stderr
    later = DEPLOY_STEPS[DEPLOY_STEPS.index(step) + 1 :]
    for name in later:
        assert result.line(name) == "", f"{name} ran after {step} failed"
    order = ["config", "pg_dump", "migrate", "deploy_gate", "up"]
    for word in order[order.index(fail_on) + 1 :]:
        assert not site.called(word), f"docker {word} was called after {fail_on} failed"
    assert site.ops.calls == []
    if step != "start":
        assert site.env_tag() == ["IMAGE_TAG=v1"], "the env file changes only when starting"


def test_failing_smoke_check_fails_the_deploy_and_points_at_rollback(site):
    site.ops.status["/ready"] = 503

    result = site.run("deploy", IMAGE_TAG="v2", STUB_RUNNING_TAG="v1")

    assert result.returncode != 0
    assert result.line("smoke-check").startswith("[fail]")
    assert "scripts/deploy.sh staging rollback" in result.stderr
    assert site.state("previous_tag") == "v1"


def test_rollback_returns_to_the_recorded_tag(site):
    assert site.run("deploy", IMAGE_TAG="v2", STUB_RUNNING_TAG="v1").returncode == 0
    before = len(site.calls())

    result = site.run("rollback", STUB_RUNNING_TAG="v2")

    assert result.returncode == 0, result.output
    assert "v1" in result.line("previous-tag")
    rollback_calls = site.calls()[before:]
    up = [c for c in rollback_calls if " up -d" in c]
    assert up and up[0].endswith("IMAGE_TAG=v1")
    assert not any("migrate" in c or "pg_dump" in c for c in rollback_calls)
    assert site.env_tag() == ["IMAGE_TAG=v1"]
    assert site.state("previous_tag") == "v2"
    assert site.state("current_tag") == "v1"
    assert result.line("smoke-check").startswith("[ok]")


def test_rollback_without_a_previous_tag_fails_clearly(site):
    result = site.run("rollback")

    assert result.returncode != 0
    assert "no previous tag" in result.line("previous-tag")
    assert not site.called("up")


def test_missing_env_file_is_a_clear_error(site):
    (site.dir / ".env.staging").unlink()

    result = site.run("deploy")

    assert result.returncode != 0
    assert ".env.staging not found" in result.line("env-file")
    assert "cp .env.production.example .env.staging" in result.stderr
    assert site.calls() == []


def test_missing_and_placeholder_variables_are_named_not_shown(site):
    env_file = site.dir / ".env.staging"
    text = env_file.read_text().replace("REDIS_URL=redis://redis:6379/0\n", "REDIS_URL=\n")
    env_file.write_text(text.replace(SECRET, "change-me"))

    result = site.run("preflight")

    assert result.returncode != 0
    assert "REDIS_URL" in result.line("env-vars")
    assert site.calls() == []

    env_file.write_text(
        text.replace("REDIS_URL=\n", "REDIS_URL=redis://r:6379/0\n").replace(SECRET, "change-me")
    )
    result = site.run("preflight")
    assert "change-me" in result.line("env-vars") and "SECRET_KEY" in result.line("env-vars")


def test_missing_image_fails_preflight(site):
    result = site.run("preflight", IMAGE_TAG="nope", STUB_NO_IMAGE="1")

    assert result.returncode != 0
    assert "loyalty-platform:nope" in result.line("image")
    assert "docker build -t loyalty-platform:nope ." in result.stderr


def test_preflight_passes_and_changes_nothing(site):
    result = site.run("preflight")

    assert result.returncode == 0, result.output
    assert "ready to deploy loyalty-platform:v1" in result.stdout
    assert not site.called("up") and not site.called("migrate")


def test_status_shows_containers_tags_migrations_and_health(site):
    (site.dir / ".deploy").mkdir()
    (site.dir / ".deploy" / "staging.previous_tag").write_text("v0\n")

    result = site.run("status", STUB_RUNNING_TAG="v1")

    assert result.returncode == 0, result.output
    assert "2 running" in result.line("containers")
    assert "configured v1, running v1, previous v0" in result.line("image")
    assert "2 applied, 1 pending" in result.line("migrations")
    assert "outbox.0002_pause" in result.stdout
    assert "ok" in result.line("health")


def test_status_reports_every_problem_and_fails(site):
    site.ops.status["/health"] = 503

    result = site.run("status", STUB_FAIL_ON="showmigrations")

    assert result.returncode != 0
    assert result.line("migrations").startswith("[fail]")
    assert result.line("health").startswith("[fail]")


def test_logs_tails_a_service(site):
    result = site.run("logs", "worker", "--since", "10m")

    assert result.returncode == 0, result.output
    compose = "compose --env-file .env.staging -f docker-compose.staging.yml"
    assert site.calls()[-1].startswith(f"{compose} logs --tail 200 worker --since 10m")


def test_help_and_bad_usage(site):
    result = run_script("deploy.sh", "--help")
    assert result.returncode == 0 and "rollback" in result.stdout

    assert run_script("deploy.sh").returncode == 2
    result = site.run("explode")
    assert result.returncode == 2 and "unknown command" in result.stderr


def test_a_second_deploy_is_refused_while_one_runs(site):
    (site.dir / ".deploy").mkdir()
    with open(site.dir / ".deploy" / "staging.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = site.run("deploy")

    assert result.returncode != 0
    assert "another deploy" in result.stderr
    assert site.calls() == []

"""Dockerfile, .dockerignore, docker-compose.production.yml, .env.production.example and the
operations guide agree with CONTRACT.md and with each other."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .contract import DEPLOYMENT_ENVIRONMENT, ENVIRONMENT, METRICS, REPO_ROOT

yaml = pytest.importorskip("yaml")

COMPOSE = REPO_ROOT / "docker-compose.production.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.production.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
OPERATIONS_MD = REPO_ROOT / "docs" / "operations.md"
IMAGE = "${IMAGE_REPO:-loyalty-platform}:${IMAGE_TAG:-latest}"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def env_example() -> dict[str, tuple[str, list[str]]]:
    """name -> (value, the comment lines right above it)."""
    found: dict[str, tuple[str, list[str]]] = {}
    comments: list[str] = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.startswith("#"):
            comments.append(line)
        elif match := re.match(r"([A-Z][A-Z0-9_]*)=(.*)$", line):
            assert match.group(1) not in found, f"{match.group(1)} twice"
            found[match.group(1)] = (match.group(2), comments)
            # Consecutive assignments share the comment block above them.
        elif not line.strip():
            comments = []
    return found


def test_compose_services_processes_and_image():
    services = compose()["services"]
    assert set(services) == {"api", "worker", "relay", "postgres", "redis"}
    for name in ("api", "worker", "relay"):
        service = services[name]
        assert service["image"] == IMAGE
        assert service["env_file"] == ".env.production"
        assert service["restart"] == "unless-stopped"
        assert service["deploy"]["resources"]["limits"]["memory"]
    assert "command" not in services["api"], "the api runs the image's gunicorn CMD"
    assert services["worker"]["command"] == ["python", "manage.py", "rundramatiq"]
    assert services["relay"]["command"] == ["python", "manage.py", "outbox_relay"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    enabled = [n for n, s in services.items() if s.get("environment", {}).get("WORKERS_ENABLED")]
    assert enabled == ["worker"]
    assert services["worker"]["environment"]["WORKERS_ENABLED"] == "1"


def test_compose_healthchecks_volumes_and_limits():
    data = compose()
    services = data["services"]
    assert "/live" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["postgres"]["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["image"].startswith("redis:7")
    assert "ping" in services["redis"]["healthcheck"]["test"]
    for name in ("worker", "relay"):
        assert services[name]["healthcheck"] == {"disable": True}, f"{name} serves no HTTP"
    for name in ("postgres", "redis"):
        assert services[name]["restart"] == "unless-stopped"
        assert services[name]["deploy"]["resources"]["limits"]["memory"]
    assert set(data["volumes"]) == {"pgdata", "redisdata"}
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["api"]["environment"]["BACKUP_DIR"] == "/backups"
    assert "${BACKUP_DIR:-./backups}:/backups:ro" in services["api"]["volumes"]
    for name in ("api", "worker", "relay"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_env_example_lists_every_variable_with_a_comment():
    example = env_example()
    missing = (ENVIRONMENT | DEPLOYMENT_ENVIRONMENT) - set(example)
    assert not missing, f"not in .env.production.example: {sorted(missing)}"
    for name, (_value, comments) in example.items():
        assert comments, f"{name} has no comment"
    assert example["WORKERS_ENABLED"][0] == "0"
    assert example["DEBUG"][0] == "0"
    assert example["OUTBOX_ALLOW_PRIVATE_TARGETS"][0] == "0"
    assert "change-me" in example["SECRET_KEY"][0]


def test_every_compose_interpolation_is_in_the_env_example():
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert names - set(env_example()) == set()


def test_dockerfile_is_multi_stage_non_root_with_healthcheck():
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", text, re.M)
    assert stages == [("python:3.11-slim", "builder"), ("python:3.11-slim", "runtime")]
    assert "pip install" in text and "pyproject.toml" in text
    assert "COPY --from=builder /opt/venv /opt/venv" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    healthcheck = re.search(r"^HEALTHCHECK .*?(?=^\S)", text, re.M | re.S).group(0)
    assert "/live" in healthcheck and "urllib" in healthcheck
    assert re.search(
        r'^CMD \["gunicorn", "config.wsgi:application", "-c", "config/gunicorn.py"\]$', text, re.M
    )


def test_dockerignore_keeps_secrets_out_and_build_inputs_in():
    rules = [ln for ln in DOCKERIGNORE.read_text().splitlines() if ln and not ln.startswith("#")]
    for needed in (".env", ".env.*", ".venv/", ".git/", "backups/", ".deploy/"):
        assert needed in rules
    for kept in ("README.md", "pyproject.toml", "manage.py", "config/"):
        assert kept not in rules


def test_operations_guide_covers_scripts_metrics_and_commands():
    text = OPERATIONS_MD.read_text(encoding="utf-8")
    for script in (
        "deploy.sh",
        "smoke-check.sh",
        "smoke-integrations.sh",
        "backup.sh",
        "backup-verify.sh",
        "restore.sh",
    ):
        assert f"scripts/{script}" in text, script
    for metric in METRICS:
        assert f"`{metric}" in text, metric
    for command in (
        "outbox_pause",
        "outbox_resume",
        "outbox_replay",
        "deploy_gate",
        "set_webhook",
        "delete_webhook",
        "issue_customer_code",
    ):
        assert command in text, command
    for mode in ("MAINTENANCE_MODE", "READ_ONLY_MODE", "RATE_LIMIT_MODE=slow"):
        assert mode in text


@pytest.mark.skipif(
    not shutil.which("docker")
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="docker compose is not installed",
)
def test_compose_config_is_valid(tmp_path):
    shutil.copy(COMPOSE, tmp_path / COMPOSE.name)
    env = ENV_EXAMPLE.read_text().replace("change-me", "not-a-real-secret")
    (tmp_path / ".env.production").write_text(env)
    command = "docker compose --env-file .env.production -f docker-compose.production.yml config -q"
    result = subprocess.run(
        command.split(), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr

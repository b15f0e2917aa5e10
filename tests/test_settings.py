"""The strict environment reader: one clear line naming the variable."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import EnvReader

ROOT = Path(__file__).resolve().parents[1]


def test_reader_names_variable_and_expectation():
    env = EnvReader({"PORT": "eighty", "DEBUG": "maybe", "DATABASE_URL": "mysql://x"})
    with pytest.raises(ImproperlyConfigured, match="PORT must be an integer"):
        env.int("PORT", 8080)
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be 0 or 1"):
        env.bool("DEBUG", False)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must use postgres"):
        env.database("DATABASE_URL", "sqlite:///x")
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        env.str("SECRET_KEY")


def test_defaults_apply_when_unset():
    env = EnvReader({})
    assert env.int("PORT", 8080) == 8080
    assert env.bool("DEBUG", False) is False
    assert env.database("DATABASE_URL", "sqlite:///x.db")["ENGINE"].endswith("sqlite3")


def test_reader_is_django_environ_made_strict():
    env = EnvReader(
        {"TOKEN": "$HOME", "BLANK": "  ", "HOSTS": "a, b,,", "FLAG": "yes", "RATE": "1O"}
    )
    assert isinstance(env, environ.Env)
    assert env.str("TOKEN") == "$HOME"  # a value, never the name of another variable
    assert env.int("BLANK", 3) == 3  # blank means the default
    assert env.list("HOSTS", []) == ["a", "b"]
    assert env.bool("FLAG", False) is True
    with pytest.raises(ImproperlyConfigured, match="RATE must be a number"):
        env.float("RATE", 1.0, lo=0.0, hi=10.0)  # django-environ alone would read 1.0
    with pytest.raises(ImproperlyConfigured, match="BLANK is required"):
        env("BLANK")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SECRET_KEY", "", "SECRET_KEY is required"),
        ("PORT", "abc", "PORT must be an integer"),
        ("READ_ONLY_MODE", "sometimes", "READ_ONLY_MODE must be 0 or 1"),
        ("REDIS_URL", "http://x", "REDIS_URL must be a URL starting with redis://"),
        ("ALERTS_5XX_SAMPLE_RATE", "2", "ALERTS_5XX_SAMPLE_RATE must be between 0.0 and 1.0"),
    ],
)
def test_startup_stops_with_one_line(variable, value, expected):
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG"}}
    env.update({"SECRET_KEY": "x" * 40, "DEBUG": "0", variable: value})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


#: The packages pyproject.toml ships (the product's code, not tests, bench or scripts).
PRODUCT_PACKAGES = (
    "config",
    "core",
    "loyalty",
    "outbox",
    "integrations",
    "notifications",
    "portal",
    "platform_ops",
)


def _settings_read(tree: ast.AST) -> set[str]:
    """Names read as ``settings.NAME`` or ``getattr(settings, "NAME", ...)``."""
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "settings"
            and node.attr.isupper()
        ):
            names.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr"}
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "settings"
            and isinstance(node.args[1], ast.Constant)
        ):
            names.add(node.args[1].value)
    return names


def test_every_setting_read_is_declared():
    from django.conf import global_settings

    import config.settings

    declared = {n for n in dir(config.settings) if n.isupper()}
    declared |= {n for n in dir(global_settings) if n.isupper()}
    undeclared = {}
    for package in PRODUCT_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            names = _settings_read(ast.parse(path.read_text(encoding="utf-8"))) - declared
            if names:
                undeclared[str(path.relative_to(ROOT))] = sorted(names)
    assert not undeclared, f"settings read but not declared in config/settings.py: {undeclared}"


# --- the local .env (config/env.py: env_file_choose) ---------------------------------------------


def _dotenv(path: Path, debug: str = "1") -> Path:
    path.write_text(f"# a comment\nDEBUG={debug}\nSECRET_KEY=from-the-file\nPORT=9999\n")
    return path


def test_local_env_file_is_read_when_it_is_a_development_file(tmp_path):
    from config.env import env_file_choose

    local = _dotenv(tmp_path / ".env")
    path, values = env_file_choose({}, local)
    assert path == local
    assert values == {"DEBUG": "1", "SECRET_KEY": "from-the-file", "PORT": "9999"}


def test_production_ignores_the_local_env_file_unless_pointed_at_it(tmp_path):
    from config.env import env_file_choose

    local = _dotenv(tmp_path / ".env")
    assert env_file_choose({"DEBUG": "0"}, local) == (None, {})  # production says DEBUG=0
    assert env_file_choose({"ENV_FILE": ""}, local) == (None, {})  # make test: no file
    not_dev = _dotenv(tmp_path / "other.env", debug="0")
    assert env_file_choose({}, not_dev) == (None, {})  # not a development file
    assert env_file_choose({}, tmp_path / "missing") == (None, {})
    # pointed at explicitly: read whatever it says
    path, values = env_file_choose({"ENV_FILE": str(not_dev), "DEBUG": "0"}, local)
    assert path == not_dev and values["DEBUG"] == "0"
    with pytest.raises(ImproperlyConfigured, match="ENV_FILE must name an existing file"):
        env_file_choose({"ENV_FILE": str(tmp_path / "nope")}, local)


def test_environment_wins_over_the_file_and_commands_run_with_the_file_alone(tmp_path):
    from config.env import env_file_load, env_file_local_write

    dotenv = tmp_path / ".env"
    assert env_file_local_write(dotenv)
    environ_map = {"ENV_FILE": str(dotenv), "SECRET_KEY": "x" * 40}
    assert env_file_load(environ_map) == dotenv
    assert environ_map["SECRET_KEY"] == "x" * 40 and environ_map["DEBUG"] == "1"
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    # Without the file, the checkout's commands stop (production's rule) ...
    refused = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "ENV_FILE": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "SECRET_KEY is required" in refused.stderr
    # ... with the file make run writes, they work: --help included.
    for args in (["help", "createsuperuser"], ["check"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**clean, "ENV_FILE": str(dotenv)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr

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

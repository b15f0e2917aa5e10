"""Schema drift: compare the database's applied migrations with the code's."""

from __future__ import annotations

import sys

from django.db import connections
from django.db.migrations.executor import MigrationExecutor


def migrations_missing(alias: str = "default") -> list[str]:
    """Migrations the code has that the database has not applied, as ``app.name``."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, backwards in plan if not backwards]


def schema_gate_or_exit(process: str) -> None:
    """Refuse to start a process against a schema behind the code, with one clear line."""
    missing = migrations_missing()
    if missing:
        sys.stderr.write(
            f"{process}: refusing to start: database schema is behind the code "
            f"({len(missing)} migrations not applied: {', '.join(missing[:5])}); "
            "run `python manage.py migrate`\n"
        )
        sys.exit(1)

"""Schema drift: compare the database's applied migrations with the code's.

Three users: ``deploy_gate`` (exit 1 before a release starts against a behind schema),
``outbox_relay`` (refuses to start, :func:`schema_gate_or_exit`), and the api, which starts anyway
in a degraded mode (runbook 003): it serves /health, /live and an honest /ready (503) and refuses
writes with a clear problem body instead of failing them with 500s
(:func:`schema_behind_cached`, used by :mod:`platform_ops.modes`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from django.apps import apps
from django.db import OperationalError, connections
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
from django.db.migrations.state import ProjectState

logger = logging.getLogger(__name__)

#: While the schema is behind (or could not be checked), look again this often, so that the api
#: leaves the degraded mode soon after ``migrate`` ran, without a restart.
SCHEMA_RECHECK_SECONDS = 10.0


def migrations_missing(alias: str = "default") -> list[str]:
    """Migrations the code has that the database has not applied, as ``app.name``."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [
        f"{migration.app_label}.{migration.name}" for migration, backwards in plan if not backwards
    ]


def model_changes_unmigrated() -> list[str]:
    """Model changes no migration describes yet (what ``makemigrations --check`` reports), as
    ``app: operation`` lines. Reads only the code, not the database."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    autodetector = MigrationAutodetector(
        loader.project_state(),
        ProjectState.from_apps(apps),
        NonInteractiveMigrationQuestioner(specified_apps=None, dry_run=True),
    )
    changes = autodetector.changes(graph=loader.graph)
    return [
        f"{app_label}: {operation.describe()}"
        for app_label, migrations in sorted(changes.items())
        for migration in migrations
        for operation in migration.operations
    ]


#: While the database cannot be reached at start-up, try again this often (and say so).
DATABASE_WAIT_SECONDS = 2.0


def schema_gate_or_exit(process: str) -> None:
    """Refuse to start a process against a schema behind the code, with one clear line.

    An unreachable database is not a reason to exit: the process waits for it (one log line per
    try), as it would ride out an outage once running.
    """
    while True:
        try:
            missing = migrations_missing()
            break
        except OperationalError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreachable"
            sys.stderr.write(f"{process}: waiting for the database ({first_line})\n")
            connections["default"].close()
            time.sleep(DATABASE_WAIT_SECONDS)
    if missing:
        sys.stderr.write(
            f"{process}: refusing to start: database schema is behind the code "
            f"({len(missing)} migrations not applied: {', '.join(missing[:5])}); "
            "run `python manage.py migrate`\n"
        )
        sys.exit(1)


class _SchemaState:
    """The api's view of the schema, checked on first use and then cached.

    Once in sync it stays in sync for the life of the process (the code cannot move ahead of a
    running process); while behind, or while the database cannot be asked, it is checked again
    every :data:`SCHEMA_RECHECK_SECONDS`. Only one thread checks at a time; the others use the
    last answer.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.missing: list[str] | None = None  # None: not known yet
        self._next_check = 0.0

    def behind(self) -> list[str]:
        if self.missing == [] or time.monotonic() < self._next_check:
            return self.missing or []
        if not self._lock.acquire(blocking=False):
            return self.missing or []
        try:
            self._next_check = time.monotonic() + SCHEMA_RECHECK_SECONDS
            try:
                missing = migrations_missing()
            except Exception as exc:  # database away: do not invent a verdict, ask again later
                logger.warning("schema check failed", extra={"error": exc.__class__.__name__})
                return self.missing or []
            if missing and missing != self.missing:
                logger.error(
                    "database schema is behind the code (%d migrations not applied: %s): "
                    "degraded mode, writes are refused until `manage.py migrate` runs",
                    len(missing),
                    ", ".join(missing[:5]),
                    extra={"missing": missing},
                )
            elif not missing and self.missing:
                logger.warning("database schema caught up with the code: writes accepted again")
            self.missing = missing
            return missing
        finally:
            self._lock.release()

    def forget(self) -> None:
        self.missing = None
        self._next_check = 0.0


schema_state = _SchemaState()


def schema_behind_cached() -> list[str]:
    """Missing migrations as last checked (see :class:`_SchemaState`); [] when in sync/unknown."""
    return schema_state.behind()

"""``deploy_gate``: exit 1 unless the database schema and the code's migrations agree."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.schema import migrations_missing, model_changes_unmigrated


class Command(BaseCommand):
    help = (
        "Compare the database with the code: exit 0 printing 'schema matches the code' when every "
        "migration is applied and every model change has a migration; else exit 1 listing the "
        "migrations not applied and the model changes without a migration. Run it after "
        "`migrate` and before starting the new release (scripts/deploy.sh does)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default", help="Database alias to check.")

    def handle(self, *args: Any, **options: Any) -> None:
        problems = 0
        try:
            missing = migrations_missing(options["database"])
        except Exception as exc:
            self.stderr.write(f"deploy gate: cannot read the database's migrations: {exc}")
            raise SystemExit(1) from None
        if missing:
            problems += len(missing)
            self.stderr.write(
                f"deploy gate: {len(missing)} migrations not applied to the database "
                "(run `python manage.py migrate`):"
            )
            for name in missing:
                self.stderr.write(f"  {name}")
        unmigrated = model_changes_unmigrated()
        if unmigrated:
            problems += len(unmigrated)
            self.stderr.write(
                f"deploy gate: {len(unmigrated)} model changes have no migration "
                "(run `python manage.py makemigrations` and ship the result):"
            )
            for line in unmigrated:
                self.stderr.write(f"  {line}")
        if problems:
            raise SystemExit(1)
        self.stdout.write("deploy gate: schema matches the code")

"""``GET /metrics``: every app's metrics in one exposition, and the ones no other app owns.

Exposition
    Behind ``METRICS_TOKEN`` (header ``X-Metrics-Token``, or ``Authorization: Bearer`` as
    Prometheus sends it; compared in constant time). During a rotation ``METRICS_TOKEN`` lists
    several tokens, comma-separated, and any one of them is accepted (every one is compared, so
    the time does not tell which matched; docs/operations.md "Rotating METRICS_TOKEN"). Under
    gunicorn ``PROMETHEUS_MULTIPROC_DIR`` is set (``config/gunicorn.py``, before workers import
    anything; read here as the setting of that name), every process writes its samples there and
    a scrape merges them with ``MultiProcessCollector`` into a fresh registry, so counts add up
    across workers whichever worker answers. Without it (``runserver``, tests) the default
    registry is served.

    Multiprocess mode only exports metrics that have samples; a labelled counter nobody used yet
    would vanish. The scrape therefore adds an empty family (``# HELP``/``# TYPE``) for every
    metric this process defines and the files do not mention, like single-process mode does.

Gauges computed elsewhere
    ``loyalty_outbox_pending{channel}``, ``loyalty_outbox_dead_total`` and
    ``outbound_queue_depth`` come from the gauges the relay computes every few seconds
    (``outbox.jobs.gauges_compute``, kept in the shared cache; served by
    ``outbox.metrics.OutboxGaugesCollector``): a scrape never counts tables.
    When they are unknown (relay down for minutes, cache away) the families have no sample, so
    a dashboard shows a gap, not a reassuring zero; ``loyalty_outbox_gauges_age_seconds`` tells
    how old they are. ``last_success_backup_timestamp_seconds`` is read at scrape time from
    ``BACKUP_DIR/last_success_backup_timestamp`` (written by ``scripts/backup.sh``); 0 means no
    backup recorded.

Worker and relay processes: one shared directory
    The delivery and bot figures (``outbound_*``, ``external_requests_total``,
    ``telegram_rate_limit_hits_total``, ``bot_errors_total``, ``webhook_processing_lag_seconds``)
    are counted in the Dramatiq workers and the relay, other containers. With
    ``METRICS_SHARED_DIR`` set to a volume every app container of the host mounts, each
    top-level process writes into its own subdirectory ``<hostname>-<pid>`` of it
    (``config/metrics_dirs.py``: pids repeat across containers, so one flat directory would
    collide) and this view merges the files of all subdirectories: ``curl .../metrics | grep
    outbound_429_total`` on the api shows the workers' count, as the runbooks expect. With
    ``DRAMATIQ_PROMETHEUS=1`` each worker's Dramatiq exporter (port 9191) additionally serves
    ``dramatiq_*`` for Prometheus (deploy/prometheus/prometheus.yml keeps only those from it, so
    nothing is counted twice).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.problems import problem_response
from notifications.metrics import InboundGaugesCollector
from outbox.metrics import OutboxGaugesCollector
from platform_ops.heartbeat import process_memory_record, relay_heartbeat_state

logger = logging.getLogger(__name__)

METRICS_TOKEN_HEADER = "X-Metrics-Token"
#: Name of the file ``scripts/backup.sh`` writes into BACKUP_DIR after a verified backup.
BACKUP_TIMESTAMP_FILE = "last_success_backup_timestamp"

DB_QUERY_DURATION = Histogram(
    "db_query_duration_seconds",
    "Duration of database queries run through Django (api, relay and workers).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

#: Counted by the relay's ``outbox_went_dead`` job (platform_ops/jobs.py); declared here so that
#: the api's /metrics lists it before any relay counted.
OUTBOX_WENT_DEAD = Counter(
    "loyalty_outbox_went_dead_total",
    "Outbox deliveries that went dead (a replay does not lower it; LoyaltyOutboxDeadGrowth).",
)


class BackupTimestampCollector(Collector):
    """``last_success_backup_timestamp_seconds`` from the file the backup script writes."""

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "last_success_backup_timestamp_seconds",
            "Unix time of the last successful database backup (0: none recorded).",
        )

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        path = Path(settings.BACKUP_DIR) / BACKUP_TIMESTAMP_FILE
        try:
            value = float(path.read_text().strip())
        except FileNotFoundError:
            value = 0.0
        except (OSError, ValueError) as exc:
            logger.warning("backup timestamp unreadable", extra={"error": exc.__class__.__name__})
            value = float("nan")
        family.add_metric([], value)
        return [family]


class RelayHeartbeatCollector(Collector):
    """``loyalty_relay_heartbeat_age_seconds`` from the heartbeat in the shared cache (absent
    when none was ever recorded or the cache is away: ``absent()`` rules see a gap)."""

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "loyalty_relay_heartbeat_age_seconds",
            "Seconds since the relay's last heartbeat (relay/scheduler alive when small).",
        )

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        state = relay_heartbeat_state()
        if "age_seconds" in state:
            family.add_metric([], float(state["age_seconds"]))  # type: ignore[arg-type]
        return [family]


class _Families(Collector):
    """Families collected once, served as they are."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


_multiprocess = bool(settings.PROMETHEUS_MULTIPROC_DIR)
#: Figures computed elsewhere (the relay, the backup script) and served at scrape time, in
#: single-process and multiprocess mode alike; they must not go through the per-process files.
_scrape_collectors: list[Collector] = [
    OutboxGaugesCollector(),
    InboundGaugesCollector(),
    BackupTimestampCollector(),
    RelayHeartbeatCollector(),
]
if not _multiprocess:
    for _collector in _scrape_collectors:
        REGISTRY.register(_collector)


def _sample_files() -> list[str]:
    """This process group's files, and with ``METRICS_SHARED_DIR`` those of every co-located
    process (relay, workers; one subdirectory each, see ``config/metrics_dirs.py``)."""
    own = Path(settings.PROMETHEUS_MULTIPROC_DIR)
    files = set(own.glob("*.db"))
    if settings.METRICS_SHARED_DIR:
        files.update(Path(settings.METRICS_SHARED_DIR).glob("*/*.db"))
    return sorted(str(path) for path in files)


def _multiprocess_registry() -> CollectorRegistry:
    """Every process's samples merged, our scrape-time gauges, and an empty family for each
    metric defined here that no process has a sample of yet."""
    families = list(multiprocess.MultiProcessCollector.merge(_sample_files(), accumulate=True))
    for collector in _scrape_collectors:
        families.extend(collector.collect())
    present = {family.name for family in families}
    for family in REGISTRY.collect():
        if family.name not in present and not family.name.startswith(("python_", "process_")):
            families.append(Metric(family.name, family.documentation, family.type, family.unit))
            present.add(family.name)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return registry


def metrics_tokens(value: str | None) -> list[str]:
    """The accepted tokens of a ``METRICS_TOKEN`` value: one, or several comma-separated."""
    return [token.strip() for token in (value or "").split(",") if token.strip()]


def token_ok(request: HttpRequest) -> bool:
    if not settings.METRICS_TOKEN:
        return True
    expected = metrics_tokens(settings.METRICS_TOKEN)
    given = request.headers.get(METRICS_TOKEN_HEADER, "")
    if not given:
        # Prometheus's own ``authorization`` (deploy/prometheus/prometheus.yml) sends a bearer.
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        given = credentials.strip() if scheme.lower() == "bearer" else ""
    if not given:
        return False
    # Every token is compared (no early exit), each in constant time.
    matches = [hmac.compare_digest(given.encode(), token.encode()) for token in expected]
    return any(matches)


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not token_ok(request):
        return problem_response(
            status_code=401,
            slug="metrics-token",
            title="Metrics token required",
            detail=f"Send the {METRICS_TOKEN_HEADER} header with the configured METRICS_TOKEN.",
        )
    # Runbook 004's bot_memory_usage_bytes: the answering process's RSS (multiprocess mode
    # drops process_* metrics, so each process records its own in the files).
    process_memory_record("api")
    registry = _multiprocess_registry() if _multiprocess else REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

"""The long chaos run with a ledger (``tests/chaos/rig.py``; ``make test`` runs a short one).

For ``--seconds`` purchases stream in over ``--customers`` customers to two ordered endpoints
while a driver SIGKILLs the relay or the worker, restarts Redis, and makes one endpoint's
receiver fail and time out for a stretch; then the ledger check: every committed event delivered
or dead by policy, none out of order within a stream, webhook-id and sequence stable across
redeliveries, sequences contiguous, no row left leased. Prints the run's figures; exits 1 when
the ledger does not hold.

Needs DATABASE_URL, REDIS_URL and SERVICES_DIR (``make bench`` provides them; the run stops and
starts that Redis). Usage: python bench/bench_chaos.py [--seconds 300] [--customers 50] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)  # .ci/services.sh and manage.py are run relative to the checkout
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("OUTBOX_ALLOW_PRIVATE_TARGETS", "1")
# A throwaway key for a throwaway database, so that `--help` and a bare run work as printed.
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
os.environ.setdefault("METRICS_PUBLIC", "1")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0, help="Purchases per second.")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    services = os.environ.get("SERVICES_DIR")
    if not services:
        raise SystemExit("bench_chaos: SERVICES_DIR is not set (run it through make bench)")

    from outbox.models import Delivery, OutboxEvent, WebhookEndpoint
    from tests.chaos.rig import ChaosRun
    from tests.fixtures.processes import Stack
    from tests.fixtures.receiver import Receiver, _handler

    call_command("migrate", "--noinput", verbosity=0)
    # The ledger reads the whole outbox: start from an empty one (a throwaway bench database).
    Delivery.objects.all().delete()
    OutboxEvent.objects.all().delete()
    WebhookEndpoint.objects.all().delete()
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "WORKERS_ENABLED": "1",
        "OUTBOX_ALLOW_PRIVATE_TARGETS": "1",
        "OUTBOX_LEASE_SECONDS": "6",
        "OUTBOX_HTTP_TIMEOUT_SECONDS": "2",
        "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
        "DRAMATIQ_NPROCS": "1",
    }
    stack = Stack(tmp=Path(tempfile.mkdtemp(prefix="bench-chaos-")), env=env)
    run = ChaosRun(
        stack=stack,
        receiver=receiver,
        services_dir=services,
        customers=args.customers,
        rate=args.rate,
        seed=args.seed,
        flaky_from=args.seconds / 3,
        flaky_for=min(30.0, args.seconds / 4),
    )
    try:
        report = run.run(seconds=args.seconds, drain_timeout=300)
    except AssertionError as exc:
        print(f"chaos ledger: FAILED: {exc}")
        raise SystemExit(1) from None
    finally:
        stack.stop_all()
        server.shutdown()
    print(report.line())
    print("chaos ledger: held (goal: every check of tests/chaos/rig.py:ledger_check): **met**")


if __name__ == "__main__":
    main()

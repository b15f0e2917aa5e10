"""The register's calls against a bare baseline (issue 16), both driven by wrk.

Two servers, each under gunicorn ``-w 2 --threads 4`` (flags), both up at once and driven in
turn with the same operations (``--ops``), the runs of one operation adjacent, ``--rounds``
(3) times with the order flipped each round; the verdict is on the median ratio:

* bare: bench/bare_commit_app.py, a plain WSGI app (psycopg + redis-py) doing the same work:
  key lookup by prefix + compare_digest and a Redis rate-limit INCR round trip, then for
  ``purchases`` in one transaction the idempotency claim, customer row lock, purchase, ledger
  entry, lot, balance update, outbox event, one delivery, NOTIFY and the stored response; for
  ``calculate`` and ``customer`` (``GET customers/{id}``) the customer row and the program with
  its reached tier; for ``code`` the one-time code consumed, then the same reads;
* platform: config.wsgi with a merchant seeded as bench_api.py does (one webhook endpoint, no
  Telegram links, so one delivery per commit, as in the bare app).

wrk (16 connections, fixed duration, a warm-up first) runs a Lua script per operation: a fresh
Idempotency-Key and order id per purchase, customers round-robin over a pool of 200, a code
never sent twice (each run gets its own slice of seeded codes). Prints requests/s and
p50/p95/p99 for each, the ratio platform/bare against the goal (0.6x), and the CPU each
request cost the server's processes, PostgreSQL and wrk (from /proc; steadier than requests/s
when the machine's speed moves between two runs). For purchases, a paced run follows on the
same server: wrk's ``delay()`` spaces the sends so that ``--rate`` (100) requests/s are offered
in total; it prints the achieved rate and p50/p95/p99 at that load (send-to-answer) against the
goal (p95 <= 50 ms). ``outbox`` compares the platform's commit without any delivery (no
endpoint, no Telegram link) and with a webhook endpoint and linked customers (goal: <= 15 %).

Needs DATABASE_URL (PostgreSQL), REDIS_URL and wrk; `make bench` provides them.

Usage: python bench/bench_commit.py [--seconds 15] [--warmup 5] [--connections 16]
       [--workers 2] [--threads 4] [--rate 100] [--rounds 3]
       [--ops purchases,calculate,customer,code,outbox]
       [--profile]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from bench_api import ROOT, free_port, make_target  # noqa: E402  (sets up Django)
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.utils import timezone  # noqa: E402

LUA = r"""
local customers = {%(customers)s}
local counter = 0
tid = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(os.time() + tid * 7919)
  wrk.headers["Authorization"] = "Bearer %(key)s"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local customer = customers[((counter + tid * 37) %% #customers) + 1]
%(request)s
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"non2xx":%%d,"socket":%%d,' ..
    '"p50":%%d,"p95":%%d,"p99":%%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""

#: The body of ``request()`` per operation (``customer`` and ``counter`` are set; ``%%`` is a
#: literal ``%`` in Lua). A purchase gets a fresh Idempotency-Key and order id; a code is the
#: thread's next seeded one (``code_base`` + thread slice + counter), never sent twice.
REQUESTS = {
    "purchases": r"""
  local unique = string.format("%%d-%%d-%%d-%%d", tid, counter, os.time(), math.random(1, 1000000000))
  wrk.headers["Idempotency-Key"] = "k" .. unique
  local body = string.format(
    '{"customer_id":"%%s","amount_minor":12345,"order_id":"o%%s"%(outlet_field)s}',
    customer, unique)
  return wrk.format("POST", "%(api)spurchases", nil, body)""",
    "calculate": r"""
  local body = string.format('{"customer_id":"%%s","amount_minor":12345}', customer)
  return wrk.format("POST", "%(api)scalculate", nil, body)""",
    "customer": r"""
  return wrk.format("GET", "%(api)scustomers/" .. customer, nil, nil)""",
    "code": r"""
  local code = %(code_base)d + (tid - 1) * %(codes_per_thread)d + counter
  return wrk.format("POST", "%(api)scode", nil, string.format('{"code":"%%09d"}', code))""",
}

#: Appended to the script for the paced run: each wrk thread hands out send slots
#: ``interval_ms`` apart to its connections (``delay()`` runs before every request), so the
#: threads together offer ``--rate`` requests/s whatever the latency, as long as a connection
#: is free. LuaJIT's ffi gives the wall clock in microseconds (os.time has only seconds).
PACED_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end
local interval_ms = %(interval_ms)f
local next_slot = nil
function delay()
  local now = now_ms()
  if next_slot == nil or next_slot < now then next_slot = now end
  local wait = next_slot - now
  next_slot = next_slot + interval_ms
  return math.floor(wait)
end
"""

API = "/api/integrations/v1/"
#: What the bench runs, in order: each operation against the bare app and the platform.
OPERATIONS = ("purchases", "calculate", "customer", "code")
#: A code is consumed by its request: each wrk run gets its own slice of seeded codes, sized
#: for this rate (well above what 2 cores serve); a thread that ran past its slice would get
#: 404s, which the bench reports as failures.
CODES_MAX_RATE = 4000
LABELS = {
    "purchases": "POST purchases (commit)",
    "calculate": "POST calculate (read)",
    "customer": "GET customers/{id} (read)",
    "code": "POST code (consumes the code)",
}
#: Goals of issue 16: throughput against the bare app, p95 at 100 commits/s offered, the cost
#: of the outbox's deliveries on the commit.
GOAL_RATIO = 0.6
GOAL_PACED_P95_MS = 50.0
GOAL_OUTBOX_OVERHEAD = 0.15


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    failed: int
    p50: float
    p95: float
    p99: float
    #: CPU seconds used during the run by the server's processes, PostgreSQL's and wrk's
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return (self.requests - self.failed) / self.seconds

    def cpu_per_request(self) -> dict[str, float]:
        """CPU milliseconds per request by group: steadier than requests/s on a shared machine."""
        done = max(1, self.requests - self.failed)
        return {group: 1000 * used / done for group, used in self.cpu.items()}

    def describe(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.name:<11} {self.rps:7.1f} requests/s  p50 {self.p50:6.1f} ms  "
            f"p95 {self.p95:6.1f} ms  p99 {self.p99:6.1f} ms  (n={self.requests}{failed})"
        )


@dataclass
class Server:
    """One app to drive: how to start it and whom to ask for."""

    name: str
    app: str
    chdir: Path
    key: str
    customers: list[str]
    outlet: str | None
    #: Seeds the one-time codes numbered by the range (``POST code``).
    seed_codes: Callable[[range], None]
    next_code: int = 100_000_000

    def script(self, op: str, seconds: float, args: argparse.Namespace, workdir: Path) -> Path:
        """A wrk script for ``op``; for ``code``, with a fresh slice of codes seeded first."""
        per_thread = 0
        if op == "code":
            per_thread = math.ceil(seconds * CODES_MAX_RATE / wrk_threads(args))
            codes = range(self.next_code, self.next_code + per_thread * wrk_threads(args))
            self.seed_codes(codes)
        fields = {
            "api": API,
            "outlet_field": f',"outlet_id":"{self.outlet}"' if self.outlet else "",
            "code_base": self.next_code,
            "codes_per_thread": per_thread,
        }
        self.next_code += per_thread * wrk_threads(args)
        text = LUA % {
            "customers": ",".join(f'"{c}"' for c in self.customers),
            "key": self.key,
            "request": REQUESTS[op] % fields,
        }
        path = workdir / f"{self.name.replace(' ', '-')}.{op}.lua"
        path.write_text(text)
        return path


def paced_script(script: Path, rate: float, threads: int) -> Path:
    """``script`` plus the pacing of :data:`PACED_LUA` at ``rate`` requests/s over ``threads``."""
    paced = script.with_suffix(".paced.lua")
    interval_ms = 1000.0 * threads / rate
    paced.write_text(script.read_text() + PACED_LUA % {"interval_ms": interval_ms})
    return paced


def serve(
    app: str, args: argparse.Namespace, log: Path, *, chdir: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "LOG_LEVEL": "warning",
        "API_THROTTLE_RATE": "1000000/s",
        "PROMETHEUS_MULTIPROC_DIR": str(log.parent / "prometheus"),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "-w",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    if app.startswith("config."):
        command[4:4] = ["-c", "config/gunicorn.py"]
    proc = subprocess.Popen(
        command,
        cwd=chdir,
        env=env,
        start_new_session=True,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/live", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit(f"gunicorn did not answer within 30 s; see {log}")


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_by_pid() -> dict[int, tuple[int, str, float]]:
    """Every process's (parent, name, user + system CPU seconds), from /proc."""
    found: dict[int, tuple[int, str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        found[int(entry)] = (int(rest[1]), name, (int(rest[11]) + int(rest[12])) / _TICK)
    return found


def _groups(snapshot: dict[int, tuple[int, str, float]], server: int) -> dict[int, str]:
    """The server's process tree as "web", PostgreSQL's processes as "postgres" (by name: the
    bench's cluster is the only one on a quiet machine), wrk as "wrk"."""
    groups: dict[int, str] = {}
    for pid, (_parent, name, _cpu) in snapshot.items():
        if name == "postgres":
            groups[pid] = "postgres"
        elif name == "wrk":
            groups[pid] = "wrk"
    tree, grew = {server}, True
    while grew:
        more = {pid for pid, (parent, _n, _c) in snapshot.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    groups.update(dict.fromkeys(tree, "web"))
    return groups


def cpu_used(before: dict[int, tuple[int, str, float]], server: int) -> dict[str, float]:
    """CPU seconds each group used since ``before`` (processes that ended are not counted:
    the server's and PostgreSQL's live through the run; wrk's own CPU is read apart)."""
    after = _cpu_by_pid()
    used: dict[str, float] = {"web": 0.0, "postgres": 0.0}
    for pid, group in _groups(after, server).items():
        if group == "wrk":
            continue
        start = before[pid][2] if pid in before else 0.0
        used[group] = used.get(group, 0.0) + after[pid][2] - start
    return used


def wrk_threads(args: argparse.Namespace) -> int:
    return min(4, args.connections)


def wrk(name: str, port: int, script: Path, args: argparse.Namespace, seconds: float) -> Result:
    children = os.times()
    run = subprocess.run(
        [
            "wrk",
            "-t",
            str(wrk_threads(args)),
            "-c",
            str(args.connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode:
        raise SystemExit(f"wrk failed ({run.returncode}): {run.stderr.strip() or run.stdout}")
    out = run.stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    data = json.loads(line.removeprefix("WRKJSON "))
    ended = os.times()
    wrk_cpu = (ended.children_user - children.children_user) + (
        ended.children_system - children.children_system
    )
    return Result(
        name=name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        failed=data["non2xx"] + data["socket"],
        p50=data["p50"] / 1000,
        p95=data["p95"] / 1000,
        p99=data["p99"] / 1000,
        cpu={"wrk": wrk_cpu},
    )


def profile_start(pid: int, args: argparse.Namespace, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on the gunicorn master and its workers during the measured run (``--profile``):
    ``--gil`` keeps only the thread holding the GIL, i.e. Python CPU; folded stacks in ``out``."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "-p", str(pid), "--subprocesses", "--gil", "-r", "40", "-f", "raw"]
    command += ["-d", str(max(1, round(args.seconds) - 1)), "-o", str(out)]
    print(f"  profiling with py-spy into {out}")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(
    servers: list[Server], ops: list[str], args: argparse.Namespace, log: Path
) -> dict[str, dict[str, list[tuple[Result, Result | None]]]]:
    """Every server up at once; then per round and operation each server in turn (the order
    flips every round): a warm-up, the closed-loop run at fixed connections and, for purchases
    in the first round (``--rate``), the paced run. Runs of one operation are adjacent, so a
    neighbour's load on the shared machine hits both sides alike more often than not."""
    running: list[tuple[Server, subprocess.Popen[bytes], int]] = []
    results: dict[str, dict[str, list[tuple[Result, Result | None]]]] = {
        server.name: {op: [] for op in ops} for server in servers
    }
    try:
        for server in servers:
            proc, port = serve(server.app, args, log, chdir=server.chdir)
            running.append((server, proc, port))
        for round_ in range(args.rounds):
            for op in ops:
                order = running if round_ % 2 == 0 else running[::-1]
                for server, proc, port in order:
                    results[server.name][op].append(
                        run_op(server, proc, port, op, args, log, paced=round_ == 0)
                    )
        return results
    finally:
        for _server, proc, _port in running:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def run_op(
    server: Server,
    proc: subprocess.Popen[bytes],
    port: int,
    op: str,
    args: argparse.Namespace,
    log: Path,
    *,
    paced: bool,
) -> tuple[Result, Result | None]:
    wrk(server.name, port, server.script(op, args.warmup, args, log.parent), args, args.warmup)
    script = server.script(op, args.seconds, args, log.parent)
    spy = None
    if args.profile:
        out = log.parent / f"{server.name.replace(' ', '-')}.{op}.pyspy.txt"
        spy = profile_start(proc.pid, args, out)
    before = _cpu_by_pid()
    closed = wrk(server.name, port, script, args, args.seconds)
    closed.cpu.update(cpu_used(before, proc.pid))
    if spy is not None:
        spy.wait(timeout=60)
    paced_run = None
    if paced and args.rate and op == "purchases":
        paced_lua = paced_script(script, args.rate, wrk_threads(args))
        paced_run = wrk(server.name, port, paced_lua, args, args.seconds)
    return closed, paced_run


def platform_server(
    name: str, args: argparse.Namespace, *, webhook: bool, telegram: bool
) -> Server:
    """A fresh merchant with ``--customers`` customers (linked to Telegram if ``telegram``)
    and, if ``webhook``, one webhook endpoint (never called: no relay runs)."""
    from loyalty.models import Customer, CustomerCode
    from loyalty.services.customers import _code_hash
    from outbox.services import webhook_endpoint_create

    target = make_target(name, customers=args.customers, with_outbox=telegram)
    merchant = Customer.objects.get(id=target.customer_ids[0]).merchant
    if webhook and not telegram:
        webhook_endpoint_create(merchant=merchant, url="http://127.0.0.1:9/hook")
    elif telegram and not webhook:
        raise ValueError("make_target links customers together with an endpoint")
    connections.close_all()

    def seed_codes(codes: range) -> None:
        until = timezone.now() + timedelta(hours=1)
        ids = target.customer_ids
        CustomerCode.objects.bulk_create(
            (
                CustomerCode(
                    merchant_id=merchant.id,
                    customer_id=ids[n % len(ids)],
                    code_hash=_code_hash(merchant.id, f"{n:09d}"),
                    expires_at=until,
                )
                for n in codes
            ),
            batch_size=5000,
        )
        connections.close_all()

    return Server(
        name=name,
        app="config.wsgi:application",
        chdir=ROOT,
        key=target.api_key,
        customers=target.customer_ids,
        outlet=target.outlet_id,
        seed_codes=seed_codes,
    )


def bare_server(args: argparse.Namespace) -> Server:
    from bare_commit_app import create_schema, seed_codes

    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url) as conn:
        key, ids = create_schema(conn, args.customers)

    def seed(codes: range) -> None:
        with psycopg.connect(url) as conn:
            seed_codes(conn, ids, codes)

    return Server(
        name="bare",
        app="bare_commit_app:app",
        chdir=BENCH,
        key=key,
        customers=ids,
        outlet=None,
        seed_codes=seed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds (default 15)")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads (default 4)")
    parser.add_argument("--customers", type=int, default=200, help="customer pool (default 200)")
    parser.add_argument(
        "--rate", type=float, default=100.0, help="paced run: requests/s offered (0: skip)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the servers during the measured run"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="closed-loop runs per operation and server, alternating (default 3; median ratio)",
    )
    parser.add_argument(
        "--ops",
        type=lambda text: [op.strip() for op in text.split(",") if op.strip()],
        default=[*OPERATIONS, "outbox"],
        help=f"comma-separated, from {','.join((*OPERATIONS, 'outbox'))} (default all)",
    )
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        raise SystemExit("bench_commit needs wrk (apt-get install wrk)")
    if connections["default"].vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        raise SystemExit(
            "bench_commit needs DATABASE_URL (PostgreSQL) and REDIS_URL; run `make bench`"
        )
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    unknown = set(args.ops) - {*OPERATIONS, "outbox"}
    if unknown:
        raise SystemExit(
            f"unknown --ops {', '.join(sorted(unknown))}; choose from "
            f"{', '.join((*OPERATIONS, 'outbox'))}"
        )
    call_command("migrate", "--noinput", verbosity=0)
    ops = [op for op in OPERATIONS if op in args.ops]
    workdir = Path(tempfile.mkdtemp(prefix="bench-commit-"))
    log = workdir / "gunicorn.log"
    print(
        f"bench_commit: {', '.join(args.ops)}; gunicorn -w {args.workers} --threads "
        f"{args.threads}, wrk {args.connections} connections, {args.seconds:.0f} s each after "
        f"{args.warmup:.0f} s of warm-up, {args.customers} customers round-robin"
    )
    failed = 0
    if ops:
        # One webhook endpoint, no Telegram links: one delivery per commit, as in the bare app.
        bare, platform = (
            bare_server(args),
            platform_server("platform", args, webhook=True, telegram=False),
        )
        runs = measure([bare, platform], ops, args, log)
        for op in ops:
            failed += report(op, runs["bare"][op], runs["platform"][op], args)
    if "outbox" in args.ops:
        # The cost of the deliveries on the commit: no endpoint and no Telegram link (the event
        # row alone, part of the commit contract) against a webhook endpoint and linked
        # customers (two deliveries per commit).
        off = platform_server("outbox off", args, webhook=False, telegram=False)
        on = platform_server("outbox on", args, webhook=True, telegram=True)
        runs = measure([off, on], ["purchases"], args, log)
        print(f"outbox overhead, POST purchases (goal <= {GOAL_OUTBOX_OVERHEAD:.0%}):")
        overheads = []
        for (off_run, _), (on_run, _) in zip(
            runs["outbox off"]["purchases"], runs["outbox on"]["purchases"], strict=True
        ):
            print("  " + off_run.describe())
            print("  " + on_run.describe())
            overheads.append(1 - on_run.rps / off_run.rps)
            failed += off_run.failed + on_run.failed
        overhead = statistics.median(overheads)
        rounds = f" (median of {len(overheads)} rounds)" if len(overheads) > 1 else ""
        print(f"  overhead {overhead:.1%}{rounds}: {verdict(overhead <= GOAL_OUTBOX_OVERHEAD)}")
    print(f"  loadavg: {Path('/proc/loadavg').read_text().strip()}; logs {workdir}")
    if failed:
        raise SystemExit(f"non-2xx or socket errors during the run; see {log}")


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(
    op: str,
    bare_runs: list[tuple[Result, Result | None]],
    platform_runs: list[tuple[Result, Result | None]],
    args: argparse.Namespace,
) -> int:
    """Print one operation's figures against its goals (the median ratio over the rounds);
    the number of failed requests."""
    print(f"{LABELS[op]}:")
    failed, ratios = 0, []
    for (bare, _), (platform, _) in zip(bare_runs, platform_runs, strict=True):
        print("  " + bare.describe())
        print("  " + platform.describe())
        ratios.append(platform.rps / bare.rps)
        bare_cpu, platform_cpu = bare.cpu_per_request(), platform.cpu_per_request()
        print(
            f"    ratio {ratios[-1]:.2f}x; CPU per request: "
            + ", ".join(
                f"{group} {platform_cpu[group]:.2f} vs {bare_cpu[group]:.2f} ms "
                f"({platform_cpu[group] / bare_cpu[group]:.2f}x)"
                for group in ("web", "postgres", "wrk")
                if bare_cpu.get(group)
            )
        )
        failed += bare.failed + platform.failed
    ratio = statistics.median(ratios)
    rounds = f"median of {len(ratios)} rounds, " if len(ratios) > 1 else ""
    print(
        f"  platform/bare throughput {ratio:.2f}x ({rounds}goal >= {GOAL_RATIO}x): "
        f"{verdict(ratio >= GOAL_RATIO)}"
    )
    bare_paced, platform_paced = bare_runs[0][1], platform_runs[0][1]
    if bare_paced and platform_paced:
        print(f"  paced at {args.rate:.0f} requests/s offered ({args.connections} connections):")
        print("  " + bare_paced.describe())
        print("  " + platform_paced.describe())
        met = platform_paced.p95 <= GOAL_PACED_P95_MS and platform_paced.rps >= 0.97 * args.rate
        print(
            f"  platform p95 {platform_paced.p95:.1f} ms at {platform_paced.rps:.1f}/s "
            f"(goal <= {GOAL_PACED_P95_MS:.0f} ms at {args.rate:.0f}/s): {verdict(met)}"
        )
        failed += bare_paced.failed + platform_paced.failed
    return failed


if __name__ == "__main__":
    main()

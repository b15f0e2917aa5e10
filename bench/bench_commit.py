"""Commit speed (issue 16): POST purchases against a bare baseline, both driven by wrk.

Two servers, each under gunicorn ``-w 2 --threads 4`` (flags), measured one after the other:

* bare: bench/bare_commit_app.py, a plain WSGI app (psycopg + redis-py) doing the same writes as
  a purchase commit: key lookup by prefix + compare_digest, a Redis rate-limit INCR round trip,
  then in one transaction the idempotency claim, customer row lock, purchase, ledger entry, lot,
  balance update, outbox event, one delivery, NOTIFY and the stored response;
* platform: config.wsgi with a merchant seeded as bench_api.py does (one webhook endpoint, no
  Telegram links, so one delivery per commit, as in the bare app).

wrk (16 connections, fixed duration) runs a Lua script with a fresh Idempotency-Key and order id
per request, customers round-robin over a pool of 200. Prints commits/s and p50/p95/p99 for each,
the ratio platform/bare and /proc/loadavg (the machine may be shared: read ratios, not figures),
and the CPU each commit cost the server's processes, PostgreSQL and wrk (from /proc; steadier
than commits/s when the machine's speed moves between the two runs).

Needs DATABASE_URL (PostgreSQL), REDIS_URL and wrk; `make bench` provides the first two.
Then, on the same server, a paced run: the same script with wrk's ``delay()`` spacing the sends
so that ``--rate`` (100) requests/s are offered in total; it prints the achieved rate and
p50/p95/p99 at that load (the latency wrk measures is send-to-answer of each request).

Usage: python bench/bench_commit.py [--seconds 15] [--connections 16] [--workers 2] [--threads 4]
       [--rate 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from bench_api import ROOT, free_port, make_target  # noqa: E402  (sets up Django)
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

LUA = r"""
local customers = {%(customers)s}
local outlet = "%(outlet)s"
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
  local unique = string.format("%%d-%%d-%%d-%%d", tid, counter, os.time(), math.random(1, 1000000000))
  wrk.headers["Idempotency-Key"] = "k" .. unique
  local body = string.format(
    '{"customer_id":"%%s","amount_minor":12345,"order_id":"o%%s"%(outlet_field)s}',
    customer, unique)
  return wrk.format("POST", "%(path)s", nil, body)
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

PATH = "/api/integrations/v1/purchases"


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

    def cpu_per_commit(self) -> dict[str, float]:
        """CPU milliseconds per commit by group: steadier than commits/s on a shared machine."""
        done = max(1, self.requests - self.failed)
        return {group: 1000 * used / done for group, used in self.cpu.items()}

    def describe(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.name:<9} {self.rps:7.1f} commits/s  p50 {self.p50:6.1f} ms  "
            f"p95 {self.p95:6.1f} ms  p99 {self.p99:6.1f} ms  (n={self.requests}{failed})"
        )


def lua_script(key: str, customers: list[str], outlet: str | None) -> str:
    return LUA % {
        "customers": ",".join(f'"{c}"' for c in customers),
        "outlet": outlet or "",
        "outlet_field": f',"outlet_id":"{outlet}"' if outlet else "",
        "key": key,
        "path": PATH,
    }


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
    name: str, app: str, script: Path, args: argparse.Namespace, log: Path, chdir: Path
) -> tuple[Result, Result | None]:
    """Closed-loop run at fixed connections, then (``--rate``) the paced run on the same server."""
    proc, port = serve(app, args, log, chdir=chdir)
    try:
        wrk(name, port, script, args, args.warmup)  # warm-up, not measured
        spy = (
            profile_start(proc.pid, args, log.parent / f"{name}.pyspy.txt")
            if args.profile
            else None
        )
        before = _cpu_by_pid()
        closed = wrk(name, port, script, args, args.seconds)
        closed.cpu.update(cpu_used(before, proc.pid))
        if spy is not None:
            spy.wait(timeout=60)
        paced = None
        if args.rate:
            paced_lua = paced_script(script, args.rate, wrk_threads(args))
            paced = wrk(name, port, paced_lua, args, args.seconds)
        return closed, paced
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


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
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        raise SystemExit("bench_commit needs wrk (apt-get install wrk)")
    if connections["default"].vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        raise SystemExit(
            "bench_commit needs DATABASE_URL (PostgreSQL) and REDIS_URL; run `make bench`"
        )
    call_command("migrate", "--noinput", verbosity=0)
    from outbox.services import webhook_endpoint_create

    # One webhook endpoint, no Telegram links: one delivery per commit, as in the bare app.
    target = make_target("commit", customers=args.customers, with_outbox=False)
    from loyalty.models import Customer

    merchant = Customer.objects.get(id=target.customer_ids[0]).merchant
    webhook_endpoint_create(merchant=merchant, url="http://127.0.0.1:9/hook")
    connections.close_all()

    from bare_commit_app import create_schema

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        bare_key, bare_ids = create_schema(conn, args.customers)

    workdir = Path(tempfile.mkdtemp(prefix="bench-commit-"))
    bare_lua, platform_lua = workdir / "bare.lua", workdir / "platform.lua"
    bare_lua.write_text(lua_script(bare_key, bare_ids, None))
    platform_lua.write_text(lua_script(target.api_key, target.customer_ids, target.outlet_id))
    log = workdir / "gunicorn.log"
    print(
        f"bench_commit: POST {PATH}, gunicorn -w {args.workers} --threads {args.threads}, "
        f"wrk {args.connections} connections, {args.seconds:.0f} s each, "
        f"{args.customers} customers round-robin"
    )
    bare, bare_paced = measure("bare", "bare_commit_app:app", bare_lua, args, log, BENCH)
    platform, platform_paced = measure(
        "platform", "config.wsgi:application", platform_lua, args, log, ROOT
    )
    print("  " + bare.describe())
    print("  " + platform.describe())
    print(
        f"  platform/bare: throughput {platform.rps / bare.rps:.2f}x, "
        f"p50 {platform.p50 / bare.p50:.2f}x, p95 {platform.p95 / bare.p95:.2f}x, "
        f"p99 {platform.p99 / bare.p99:.2f}x"
    )
    bare_cpu, platform_cpu = bare.cpu_per_commit(), platform.cpu_per_commit()
    print(
        "  CPU per commit (closed loop): "
        + ", ".join(
            f"{group} {platform_cpu[group]:.2f} ms vs bare {bare_cpu[group]:.2f} ms "
            f"({platform_cpu[group] / bare_cpu[group]:.2f}x)"
            for group in ("web", "postgres", "wrk")
            if bare_cpu.get(group)
        )
    )
    failed = bare.failed + platform.failed
    if bare_paced and platform_paced:
        print(f"  paced at {args.rate:.0f} requests/s offered ({args.connections} connections):")
        print("  " + bare_paced.describe())
        print("  " + platform_paced.describe())
        failed += bare_paced.failed + platform_paced.failed
    print(f"  loadavg: {Path('/proc/loadavg').read_text().strip()}; logs {workdir}")
    if failed:
        raise SystemExit(f"non-2xx or socket errors during the run; see {log}")


if __name__ == "__main__":
    main()

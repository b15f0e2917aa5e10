"""backup.sh -> backup-verify.sh -> restore.sh on a real PostgreSQL, in direct mode."""

from __future__ import annotations

import gzip
import re
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import ROLE_PASSWORD, psql, run_script

TABLES = ["customers", "purchases", '"Order Lines"']


def seed(url: str) -> None:
    psql(
        url,
        """
        CREATE TABLE customers (id serial PRIMARY KEY, phone text UNIQUE NOT NULL,
                                balance_points integer NOT NULL, note text);
        CREATE TABLE purchases (id bigserial PRIMARY KEY,
                                customer_id integer NOT NULL REFERENCES customers (id),
                                amount_minor bigint NOT NULL, created timestamptz NOT NULL);
        CREATE TABLE "Order Lines" (purchase_id bigint REFERENCES purchases (id), sku text);
        CREATE INDEX purchases_customer ON purchases (customer_id);
        INSERT INTO customers (phone, balance_points, note)
            SELECT '+7999' || lpad(g::text, 7, '0'), g * 10, E'tab\\there; quote '' and \\\\'
            FROM generate_series(1, 25) g;
        INSERT INTO purchases (customer_id, amount_minor, created)
            SELECT (g % 25) + 1, g * 100,
                   '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 hour'
            FROM generate_series(1, 40) g;
        INSERT INTO "Order Lines" SELECT id, 'sku-' || id FROM purchases WHERE id <= 7;
    """,
    )


def snapshot(url: str) -> dict[str, str]:
    return {t: psql(url, f"SELECT * FROM {t} ORDER BY 1, 2") for t in TABLES}


def databases(url: str) -> str:
    return psql(url, "SELECT string_agg(datname, ',') FROM pg_database")


def direct(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "NO_COMPOSE": "1",
        "BACKUP_DIR": str(tmp_path / "backups"),
        **extra,
    }


def take_backup(url: str, tmp_path: Path, **extra: str) -> Path:
    result = run_script("backup.sh", env=direct(url, tmp_path, **extra), cwd=tmp_path)
    assert result.returncode == 0, result.output
    return Path(re.search(r"(\S+\.sql\.gz)", result.line("save")).group(1))


def test_round_trip_backup_verify_restore(database_url, tmp_path):
    seed(database_url)
    original = snapshot(database_url)

    result = run_script("backup.sh", env=direct(database_url, tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.output
    for step in ["target", "connect", "dump", "check", "save", "prune", "record"]:
        assert result.line(step).startswith("[ok]"), result.stdout
    backup = Path(re.search(r"(\S+\.sql\.gz)", result.line("save")).group(1))
    assert re.fullmatch(r"backup_\d{8}T\d{6}Z\.sql\.gz", backup.name)
    assert backup.stat().st_mode & 0o077 == 0, "dumps hold customer data: owner-only"
    stamp = int((backup.parent / "last_success_backup_timestamp").read_text())
    assert abs(stamp - time.time()) < 60
    prom = (backup.parent / "last_success_backup.prom").read_text()
    assert "# TYPE last_success_backup_timestamp_seconds gauge" in prom
    assert f"last_success_backup_timestamp_seconds {stamp}\n" in prom
    # The closing line sits in the last few lines (newer pg_dump adds a \\unrestrict after it).
    tail = gzip.decompress(backup.read_bytes()).splitlines()[-5:]
    assert b"-- PostgreSQL database dump complete" in tail

    verify = run_script(
        "backup-verify.sh", "--direct", str(backup), env={"DATABASE_URL": database_url}
    )
    assert verify.returncode == 0, verify.output
    assert "3 tables, 72 rows" in verify.line("row-counts")
    counts = dict(re.findall(r"^\s+(public\.\S+(?: \S+)?)\s+(\d+)$", verify.stdout, re.M))
    assert counts == {
        "public.customers": "25",
        "public.purchases": "40",
        'public."Order Lines"': "7",
    }
    assert "loyalty_verify" not in databases(database_url)

    psql(
        database_url,
        """
        UPDATE customers SET balance_points = 0;
        DELETE FROM "Order Lines"; DELETE FROM purchases WHERE id > 10;
        CREATE TABLE added_later (id int);
    """,
    )
    assert snapshot(database_url) != original

    restore = run_script(
        "restore.sh",
        "--yes",
        str(backup),
        env=direct(database_url, tmp_path, SKIP_DEPLOY_GATE="1"),
        cwd=tmp_path,
    )
    assert restore.returncode == 0, restore.output
    for step in ["file", "target", "connections", "safety-backup", "restore"]:
        assert restore.line(step).startswith("[ok]"), restore.stdout
    assert restore.line("deploy-gate").startswith("[skip]")
    assert snapshot(database_url) == original
    assert psql(database_url, "SELECT to_regclass('public.added_later') IS NULL") == "t\n"
    # Sequences come back too: the next id continues after the restored rows.
    assert (
        psql(
            database_url,
            "INSERT INTO purchases (customer_id, amount_minor, created) "
            "VALUES (1, 1, now()) RETURNING id",
        )
        == "41\n"
    )
    safety = list((tmp_path / "backups").glob("pre-restore_*.sql.gz"))
    assert len(safety) == 1 and b"added_later" in gzip.decompress(safety[0].read_bytes())

    for output in (result.output, verify.output, restore.output):
        assert ROLE_PASSWORD not in output and "p%40ss" not in output


def test_truncated_and_corrupt_dumps_are_rejected(database_url, tmp_path):
    seed(database_url)
    backup = take_backup(database_url, tmp_path)
    data = backup.read_bytes()
    env = {"DATABASE_URL": database_url}

    cut = tmp_path / "cut.sql.gz"
    cut.write_bytes(data[: len(data) // 2])
    result = run_script("backup-verify.sh", "--direct", str(cut), env=env)
    assert result.returncode != 0
    assert "truncated or corrupt" in result.line("file")
    assert result.line("restore") == ""

    sql = gzip.decompress(data)
    short = tmp_path / "short.sql.gz"
    short.write_bytes(gzip.compress(sql[: len(sql) // 2]))
    result = run_script("backup-verify.sh", "--direct", str(short), env=env)
    assert result.returncode != 0
    assert "cut short" in result.line("file")

    broken = tmp_path / "broken.sql.gz"
    broken.write_bytes(
        gzip.compress(
            sql.replace(
                b"CREATE TABLE public.purchases",
                b"CREATE TABLE public.purchases_oops (x int);\nCREATE TABLE public.purchases",
                1,
            ).replace(b"COPY public.purchases ", b"COPY public.nope ", 1)
        )
    )
    result = run_script("backup-verify.sh", "--direct", str(broken), env=env)
    assert result.returncode != 0
    assert result.line("restore").startswith("[fail]")
    assert "public.nope" in result.stderr
    assert "loyalty_verify" not in databases(database_url), "scratch database dropped on failure"

    restore = run_script(
        "restore.sh",
        "--yes",
        str(cut),
        env=direct(database_url, tmp_path, SKIP_DEPLOY_GATE="1"),
        cwd=tmp_path,
    )
    assert restore.returncode != 0 and restore.line("target") == ""


def test_failed_restore_changes_nothing(database_url, tmp_path):
    seed(database_url)
    backup = take_backup(database_url, tmp_path)
    sql = gzip.decompress(backup.read_bytes())
    broken = tmp_path / "broken.sql.gz"
    broken.write_bytes(gzip.compress(sql.replace(b"COPY public.purchases ", b"COPY public.nope ")))
    psql(database_url, "UPDATE customers SET balance_points = 7")
    before = snapshot(database_url)

    result = run_script(
        "restore.sh",
        "--yes",
        "--no-safety-backup",
        str(broken),
        env=direct(database_url, tmp_path, SKIP_DEPLOY_GATE="1"),
        cwd=tmp_path,
    )

    assert result.returncode != 0
    assert result.line("restore").startswith("[fail]")
    assert result.line("safety-backup").startswith("[skip]")
    assert snapshot(database_url) == before


def test_restore_refuses_live_connections_unless_forced(database_url, tmp_path):
    seed(database_url)
    backup = take_backup(database_url, tmp_path)
    psql(database_url, "UPDATE customers SET balance_points = -1")
    client = subprocess.Popen(
        ["psql", "-X", "-q", database_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PGAPPNAME": "still-serving", "PATH": "/usr/bin:/bin"},
    )
    try:
        deadline = time.monotonic() + 10
        while "still-serving" not in psql(
            database_url, "SELECT string_agg(application_name, ',') FROM pg_stat_activity"
        ):
            assert time.monotonic() < deadline, "the client never connected"
            time.sleep(0.05)
        env = direct(database_url, tmp_path, SKIP_DEPLOY_GATE="1")

        refused = run_script("restore.sh", "--yes", str(backup), env=env, cwd=tmp_path)
        assert refused.returncode != 0
        assert "1 other connection(s): still-serving@" in refused.line("connections")
        assert "--force" in refused.stderr
        assert refused.line("restore") == ""
        assert psql(database_url, "SELECT max(balance_points) FROM customers") == "-1\n"

        forced = run_script("restore.sh", "--yes", "--force", str(backup), env=env, cwd=tmp_path)
        assert forced.returncode == 0, forced.output
        assert "terminated 1 connection(s)" in forced.line("connections")
        assert psql(database_url, "SELECT max(balance_points) FROM customers") == "250\n"
        client.stdin.write(b"SELECT 1;\n")
        client.stdin.flush()
        client.stdin.close()
        assert client.wait(timeout=10) != 0, "the forced restore ended the other session"
    finally:
        if client.poll() is None:
            client.kill()


def test_restore_asks_for_confirmation(database_url, tmp_path):
    seed(database_url)
    backup = take_backup(database_url, tmp_path)

    result = run_script(
        "restore.sh",
        str(backup),
        env=direct(database_url, tmp_path, SKIP_DEPLOY_GATE="1"),
        cwd=tmp_path,
    )

    assert result.returncode != 0
    assert "pass --yes" in result.stderr
    assert result.line("restore") == ""


def test_backup_keeps_the_newest(database_url, tmp_path):
    seed(database_url)
    folder = tmp_path / "backups"
    folder.mkdir()
    for day in ("20200101", "20200102", "20200103"):
        (folder / f"backup_{day}T000000Z.sql.gz").write_bytes(b"old")
    (folder / "pre-restore_20200101T000000Z.sql.gz").write_bytes(b"not pruned")

    newest = take_backup(database_url, tmp_path, BACKUP_KEEP="2")

    left = sorted(p.name for p in folder.glob("backup_*.sql.gz"))
    assert left == ["backup_20200103T000000Z.sql.gz", newest.name]
    assert (folder / "pre-restore_20200101T000000Z.sql.gz").exists()


def test_backup_fails_on_an_unreachable_database(tmp_path):
    url = "postgresql://nobody:secret-pw@127.0.0.1:1/none"

    result = run_script("backup.sh", env=direct(url, tmp_path, PGCONNECT_TIMEOUT="2"), cwd=tmp_path)

    assert result.returncode != 0
    assert result.line("connect").startswith("[fail]")
    assert result.line("dump") == ""
    assert "secret-pw" not in result.output
    assert not list(tmp_path.glob("backups/*"))


def test_backup_needs_a_database_url_in_direct_mode(tmp_path):
    result = run_script("backup.sh", "--direct", cwd=tmp_path)

    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.line("target")


@pytest.mark.parametrize("script", ["backup.sh", "backup-verify.sh", "restore.sh"])
def test_help(script):
    result = run_script(script, "--help")

    assert result.returncode == 0
    assert "Usage:" in result.stdout and "--direct" in result.stdout


def test_verify_keep_leaves_the_scratch_database_for_inspection(database_url, tmp_path):
    seed(database_url)
    backup = take_backup(database_url, tmp_path)
    verify = run_script(
        "backup-verify.sh", "--direct", "--keep", str(backup), env={"DATABASE_URL": database_url}
    )
    assert verify.returncode == 0, verify.output
    assert verify.line("drop-scratch").startswith("[skip]"), verify.stdout
    kept = re.search(r"kept \(--keep\): (loyalty_verify_\w+);", verify.line("drop-scratch"))
    assert kept, verify.stdout
    name = kept.group(1)
    try:
        assert name in databases(database_url)
        # The restored rows are there to inspect.
        scratch_url = database_url.rsplit("/", 1)[0] + "/" + name
        assert psql(scratch_url, "SELECT count(*) FROM customers").strip() == "25"
    finally:
        psql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert name not in databases(database_url)

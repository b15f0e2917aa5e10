"""``show_rate_limits``: the Telegram send limiter as it stands, and the recent 429s (runbook 002,
"Telegram 429"): is the bot being held back by us or by Telegram, and for which chats."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from notifications.limiter import BOT_WINDOW_SECONDS, pace
from platform_ops.selectors import rate_limited_attempts_count, rate_limited_attempts_recent

#: The limiter's Redis keys (notifications.limiter.RedisBackend): tg:rl:<bot>:<name>.
KEY_PREFIX = "tg:rl:"


def _limiter_state(url: str, *, chats: int) -> dict[str, Any]:
    """Read-only look at the limiter's keys (SCAN, GET, ZCOUNT): per bot, the next free slot,
    sends within the last second, and the chats that wait longest."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    seconds, micros = client.time()
    now = seconds * 1_000_000 + micros
    bots: dict[str, dict[str, Any]] = {}
    for raw in client.scan_iter(match=f"{KEY_PREFIX}*", count=1000):
        key = raw.decode()
        bot, _, name = key[len(KEY_PREFIX) :].partition(":")
        state = bots.setdefault(bot, {"bot": bot, "waiting_chats": []})
        if name == "slot":
            bot_next = int(client.get(key) or 0)
            state["next_slot_in_seconds"] = max(bot_next - now, 0) / 1e6
        elif name == "sent":
            window = int(BOT_WINDOW_SECONDS * 1_000_000)
            state["sends_last_second"] = client.zcount(key, now - window, "+inf")
        elif name.startswith("slot:"):
            chat_next = int(client.get(key) or 0)
            if chat_next > now:
                wait = (chat_next - now) / 1e6
                chat_id = name.split(":", 1)[1]
                state["waiting_chats"].append({"chat_id": chat_id, "next_slot_in_seconds": wait})
    for state in bots.values():
        state["waiting_chats"] = sorted(
            state["waiting_chats"], key=lambda c: -c["next_slot_in_seconds"]
        )[:chats]
    return {"backend": "redis", "bots": sorted(bots.values(), key=lambda b: b["bot"])}


class Command(BaseCommand):
    help = (
        "Show the Telegram send limiter's state (per bot: the next free slot, sends in the "
        "last second, the chats waiting longest; the pace of RATE_LIMIT_MODE) and the tries "
        "answered 429 in the last --minutes (default 15), by channel and the latest ones. "
        "Reads only; --json for a machine-readable answer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--minutes", type=int, default=15, help="Window for recent 429s.")
        parser.add_argument("--chats", type=int, default=10, help="Waiting chats to list.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["minutes"] < 1 or options["chats"] < 0:
            raise CommandError("--minutes must be at least 1 and --chats not negative")
        current = pace()
        report: dict[str, Any] = {
            "rate_limit_mode": settings.RATE_LIMIT_MODE,
            "bot_interval_seconds": round(current.bot_interval, 4),
            "bot_max_per_second": current.bot_max,
        }
        if settings.REDIS_URL:
            try:
                report["limiter"] = _limiter_state(settings.REDIS_URL, chats=options["chats"])
            except Exception as exc:  # Redis away: say so, still show the 429s
                report["limiter"] = {"backend": "redis", "error": exc.__class__.__name__}
        else:
            report["limiter"] = {
                "backend": "memory",
                "error": "no REDIS_URL: the limiter lives in the embedded process's memory",
            }
        since = timezone.now() - timedelta(minutes=options["minutes"])
        report["recent_429"] = {
            "minutes": options["minutes"],
            "by_channel": rate_limited_attempts_count(since=since),
            "latest": [
                {**row, "at": row["at"].isoformat(timespec="seconds")}
                for row in rate_limited_attempts_recent(since=since)
            ],
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            return
        self.stdout.write(self._text(report))

    @staticmethod
    def _text(report: dict[str, Any]) -> str:
        lines = [
            f"mode: {report['rate_limit_mode']} (one message per "
            f"{report['bot_interval_seconds']} s per bot, at most "
            f"{report['bot_max_per_second']} per second)"
        ]
        limiter = report["limiter"]
        if "error" in limiter:
            lines.append(f"limiter: {limiter['error']}")
        elif not limiter["bots"]:
            lines.append("limiter: no sends recorded recently")
        for bot in limiter.get("bots", []):
            lines.append(
                f"bot {bot['bot']}: next slot in {bot.get('next_slot_in_seconds', 0):.3f} s, "
                f"{bot.get('sends_last_second', 0)} sends in the last second, "
                f"{len(bot['waiting_chats'])} chats waiting"
            )
            for chat in bot["waiting_chats"]:
                lines.append(
                    f"  chat {chat['chat_id']}: next slot in {chat['next_slot_in_seconds']:.3f} s"
                )
        recent = report["recent_429"]
        by_channel = ", ".join(f"{k} {v}" for k, v in sorted(recent["by_channel"].items()))
        lines.append(f"429 answers in the last {recent['minutes']} min: {by_channel or 'none'}")
        for row in recent["latest"]:
            lines.append(
                f"  {row['at']} {row['channel']} {row['target']} merchant {row['merchant_id']}"
            )
        return "\n".join(lines)

"""The customer bot's send-rate limiter, shared by every worker process through Redis.

Telegram allows a bot about 30 messages per second in all and 1 message per second to one chat;
beyond that it answers 429 and, if pushed, throttles the bot for longer. Every sender (outbox
deliveries and bot replies, in any process) goes through two steps before ``sendMessage``:

1. **Schedule** (:meth:`SendRateLimiter.acquire`). Reserve a send time: per bot, slots are
   spaced evenly (a GCRA "theoretical arrival time"), one every ``1 / BOT_RATE_PER_SECOND`` s or
   every :data:`SLOW_INTERVAL_SECONDS` when ``RATE_LIMIT_MODE=slow``; per chat, not before the
   chat's previous slot plus :data:`CHAT_INTERVAL_SECONDS`. A reservation is all-or-nothing:
   when the chat is busy nothing is reserved and the caller is told when to ask again (a chat
   waiting for its turn never holds a slot other chats could use); when the bot's next slot is
   further away than the caller may wait, nothing is reserved either (giving up wastes no
   capacity). The caller then sleeps until its slot. Even spacing is what makes the sustained
   rate high: the bot sends steadily at just under the limit instead of in bursts.
2. **Admit** (inside :meth:`SendRateLimiter.acquire`), right before the HTTP call. A slot
   says when a sender *should* send, but a thread can send late (GIL, a slow first connection, a
   busy host) and late senders bunch up with punctual ones; on a loaded machine that is tens of
   milliseconds, more than the headroom under 30/s. So admission reasons about when the API can
   have *received* each send, which is causal and needs no clock tricks: a message arrives
   after it was admitted and before its answer came back. Every admitted send is logged (per
   bot, and the chat's last) as in flight until :meth:`SendRateLimiter.release` records the time
   its answer arrived. A new send is admitted only when fewer than 30 of the bot's sends may
   have arrived within the last :data:`BOT_WINDOW_SECONDS` (still in flight, or answered within
   that time) and the chat's previous send was answered at least :data:`CHAT_MIN_GAP_SECONDS`
   ago. Whatever the delays, the API then never sees 31 messages of the bot in one second, nor
   two to one chat. Punctual senders on a 29/s schedule are rarely held back by it.

Both steps are single Lua scripts on Redis (atomic, and timed by the Redis server's clock, which
all processes share). Without ``REDIS_URL`` (the embedded ``make run``, one process) the same
algorithm runs in memory.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

#: Messages per second per bot we schedule; Telegram allows 30.
BOT_RATE_PER_SECOND = 29.0
#: Sends of one bot that may arrive at the API within one :data:`BOT_WINDOW_SECONDS`.
BOT_MAX_PER_WINDOW = 30
#: Telegram's second, plus a few milliseconds for clocks of different processes.
BOT_WINDOW_SECONDS = 1.005
#: Seconds between the scheduled slots of two messages to one chat (Telegram: one per second).
CHAT_INTERVAL_SECONDS = 1.1
#: Least time between the answer to a chat's send and the admission of its next send.
CHAT_MIN_GAP_SECONDS = 1.005
#: While no answer came back a send counts as in flight for at most this long on top of the
#: HTTP timeout (a sender that died must not block its chat for ever).
IN_FLIGHT_GRACE_SECONDS = 2.0
#: How often a sender asks again while the sends it waits for are still in flight.
IN_FLIGHT_POLL_SECONDS = 0.02
#: Seconds between two messages of one bot when ``RATE_LIMIT_MODE=slow`` (CONTRACT: one per
#: 1.5 s; the extra 20 ms keeps arrivals at the API at least 1.5 s apart despite jitter).
SLOW_INTERVAL_SECONDS = 1.52

#: Bounds of the ``retry_after`` handed back when no slot could be had in time (seconds).
NO_SLOT_MIN_RETRY = 0.5
NO_SLOT_MAX_RETRY = 10.0

_KEY_PREFIX = "tg:rl"

# Step 1. KEYS: bot slot, chat slot. ARGV: bot interval, chat interval, max wait (microseconds).
# Returns {granted (0/1), wait in microseconds, chat_busy (0/1)}.
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local bot_interval = tonumber(ARGV[1])
local chat_interval = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local chat_next = tonumber(redis.call('GET', KEYS[2]) or '0')
if chat_next > now then
  return {0, chat_next - now, 1}
end
local bot_next = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, bot_next)
if slot - now > max_wait then
  return {0, slot - now, 0}
end
local bot_until = slot + bot_interval
local chat_until = slot + chat_interval
redis.call('SET', KEYS[1], string.format('%d', bot_until),
           'PX', math.ceil((bot_until - now) / 1000) + 1000)
redis.call('SET', KEYS[2], string.format('%d', chat_until),
           'PX', math.ceil((chat_until - now) / 1000) + 1000)
return {1, slot - now, 0}
"""

# Step 2. KEYS: bot send log (sorted set: member -> answer time, or in-flight deadline), chat's
# last send (same). ARGV: bot window, bot max, chat gap, in-flight cap, poll (microseconds or
# count), a unique member for this send.
# Returns {admitted (0/1), admitted: in-flight mark / refused: wait in microseconds}.
_ADMIT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local bot_max = tonumber(ARGV[2])
local chat_gap = tonumber(ARGV[3])
local in_flight = tonumber(ARGV[4])
local poll = tonumber(ARGV[5])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if last > now then
  return {0, poll}
end
if now - last < chat_gap then
  return {0, chat_gap - (now - last)}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
if redis.call('ZCARD', KEYS[1]) >= bot_max then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  if oldest > now then
    return {0, poll}
  end
  return {0, oldest + window - now + 1}
end
local mark = now + in_flight
redis.call('ZADD', KEYS[1], string.format('%d', mark), ARGV[6])
redis.call('PEXPIRE', KEYS[1], math.ceil((in_flight + window) / 1000) + 1000)
redis.call('SET', KEYS[2], string.format('%d', mark),
           'PX', math.ceil((in_flight + chat_gap) / 1000) + 1000)
return {1, mark}
"""

# KEYS: bot send log, chat's last send. ARGV: member, its in-flight mark, chat gap.
# Records now as the time the send's answer came back.
_RELEASE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stamp = string.format('%d', now)
redis.call('ZADD', KEYS[1], 'XX', stamp, ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('SET', KEYS[2], stamp, 'PX', math.ceil(tonumber(ARGV[3]) / 1000) + 1000)
end
return 1
"""

# KEYS: chat slot. ARGV: hold (microseconds). Pushes the chat's next slot to now + hold at least.
_HOLD_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hold_until = now + tonumber(ARGV[1])
local chat_next = tonumber(redis.call('GET', KEYS[1]) or '0')
if chat_next < hold_until then
  redis.call('SET', KEYS[1], string.format('%d', hold_until),
             'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
"""


class NoSlot(Exception):
    """No send slot within the time the caller may wait; ask again after ``retry_after`` s."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"no send slot; retry after {retry_after:.2f}s")
        self.retry_after = retry_after


class LimiterUnavailable(Exception):
    """The shared limiter (Redis) could not be asked; nothing may be sent meanwhile."""


@dataclass(frozen=True)
class Slot:
    """Answer to one reservation or admission request."""

    granted: bool
    #: Granted: seconds until the reserved send time. Refused: seconds until asking may succeed.
    wait: float = 0.0
    #: Refused because the chat's previous message is too recent.
    chat_busy: bool = False
    #: Admitted: the send's entry in the send log, for :meth:`Backend.release`.
    ticket: Ticket | None = None


@dataclass(frozen=True)
class Ticket:
    """An admitted send, in flight until released."""

    bot: str
    chat_id: int
    member: str
    mark: int | float


@dataclass(frozen=True)
class Pace:
    """The limits in force (they depend on ``RATE_LIMIT_MODE``)."""

    bot_interval: float
    bot_window: float
    bot_max: int


def pace() -> Pace:
    """Limits under the current ``RATE_LIMIT_MODE``."""
    if settings.RATE_LIMIT_MODE == "slow":
        return Pace(bot_interval=SLOW_INTERVAL_SECONDS, bot_window=SLOW_INTERVAL_SECONDS, bot_max=1)
    return Pace(
        bot_interval=1.0 / BOT_RATE_PER_SECOND,
        bot_window=BOT_WINDOW_SECONDS,
        bot_max=BOT_MAX_PER_WINDOW,
    )


def _in_flight_cap() -> float:
    return float(settings.OUTBOX_HTTP_TIMEOUT_SECONDS) + IN_FLIGHT_GRACE_SECONDS


class Backend(Protocol):
    def reserve(self, *, bot: str, chat_id: int, pace: Pace, max_wait: float) -> Slot: ...

    def admit(self, *, bot: str, chat_id: int, pace: Pace) -> Slot: ...

    def release(self, ticket: Ticket) -> None: ...

    def hold_chat(self, *, bot: str, chat_id: int, seconds: float) -> None: ...


class RedisBackend:
    """Reservations and admissions in Redis, atomic by Lua, timed by the Redis server's clock."""

    def __init__(self, url: str | None = None) -> None:
        """``url``: that Redis; None: the configured one (REDIS_URL, or the Sentinel master)."""
        import redis

        from core.redis_connection import redis_client

        timeouts = {"socket_timeout": 2, "socket_connect_timeout": 2}
        self._client = redis.Redis.from_url(url, **timeouts) if url else redis_client(**timeouts)
        self._reserve = self._client.register_script(_RESERVE_LUA)
        self._admit = self._client.register_script(_ADMIT_LUA)
        self._release = self._client.register_script(_RELEASE_LUA)
        self._hold = self._client.register_script(_HOLD_LUA)

    @staticmethod
    def _key(bot: str, name: str) -> str:
        return f"{_KEY_PREFIX}:{bot}:{name}"

    def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        import redis

        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise LimiterUnavailable(exc.__class__.__name__) from exc

    def reserve(self, *, bot: str, chat_id: int, pace: Pace, max_wait: float) -> Slot:
        keys = [self._key(bot, "slot"), self._key(bot, f"slot:{chat_id}")]
        args = [_us(pace.bot_interval), _us(CHAT_INTERVAL_SECONDS), _us(max(max_wait, 0.0))]
        granted, wait_us, chat_busy = self._run(self._reserve, keys, args)
        return Slot(granted=bool(granted), wait=int(wait_us) / 1e6, chat_busy=bool(chat_busy))

    def admit(self, *, bot: str, chat_id: int, pace: Pace) -> Slot:
        keys = [self._key(bot, "sent"), self._key(bot, f"sent:{chat_id}")]
        member = uuid.uuid4().hex
        args = [
            _us(pace.bot_window),
            pace.bot_max,
            _us(CHAT_MIN_GAP_SECONDS),
            _us(_in_flight_cap()),
            _us(IN_FLIGHT_POLL_SECONDS),
            member,
        ]
        admitted, value = self._run(self._admit, keys, args)
        if not admitted:
            return Slot(granted=False, wait=int(value) / 1e6)
        return Slot(granted=True, ticket=Ticket(bot, chat_id, member, int(value)))

    def release(self, ticket: Ticket) -> None:
        keys = [self._key(ticket.bot, "sent"), self._key(ticket.bot, f"sent:{ticket.chat_id}")]
        args = [ticket.member, str(int(ticket.mark)), _us(CHAT_MIN_GAP_SECONDS)]
        try:
            self._run(self._release, keys, args)
        except LimiterUnavailable as exc:  # the entry stays in flight until its mark passes
            logger.warning("could not release telegram send: %s", exc)

    def hold_chat(self, *, bot: str, chat_id: int, seconds: float) -> None:
        try:
            self._run(self._hold, [self._key(bot, f"slot:{chat_id}")], [_us(seconds)])
        except LimiterUnavailable as exc:
            logger.warning("could not hold telegram chat: %s", exc)


class MemoryBackend:
    """The same reservations and admissions in one process (embedded run without Redis)."""

    #: Forget chats idle for this long (keeps memory flat with many chats).
    _CHAT_FORGET_SECONDS = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bot_next: dict[str, float] = {}
        self._chat_next: dict[tuple[str, int], float] = {}
        #: bot -> {member: answer time or in-flight mark}
        self._bot_sent: dict[str, dict[str, float]] = {}
        self._chat_sent: dict[tuple[str, int], float] = {}
        self._last_prune = time.monotonic()

    def reserve(self, *, bot: str, chat_id: int, pace: Pace, max_wait: float) -> Slot:
        with self._lock:
            now = time.monotonic()
            self._prune(now)
            chat_next = self._chat_next.get((bot, chat_id), 0.0)
            if chat_next > now:
                return Slot(granted=False, wait=chat_next - now, chat_busy=True)
            slot = max(now, self._bot_next.get(bot, 0.0))
            if slot - now > max_wait:
                return Slot(granted=False, wait=slot - now)
            self._bot_next[bot] = slot + pace.bot_interval
            self._chat_next[(bot, chat_id)] = slot + CHAT_INTERVAL_SECONDS
            return Slot(granted=True, wait=slot - now)

    def admit(self, *, bot: str, chat_id: int, pace: Pace) -> Slot:
        with self._lock:
            now = time.monotonic()
            last = self._chat_sent.get((bot, chat_id), float("-inf"))
            if last > now:
                return Slot(granted=False, wait=IN_FLIGHT_POLL_SECONDS)
            if now - last < CHAT_MIN_GAP_SECONDS:
                return Slot(granted=False, wait=CHAT_MIN_GAP_SECONDS - (now - last))
            sent = self._bot_sent.setdefault(bot, {})
            for member in [m for m, at in sent.items() if at <= now - pace.bot_window]:
                del sent[member]
            if len(sent) >= pace.bot_max:
                oldest = min(sent.values())
                if oldest > now:
                    return Slot(granted=False, wait=IN_FLIGHT_POLL_SECONDS)
                return Slot(granted=False, wait=oldest + pace.bot_window - now + 1e-6)
            mark = now + _in_flight_cap()
            member = uuid.uuid4().hex
            sent[member] = mark
            self._chat_sent[(bot, chat_id)] = mark
            return Slot(granted=True, ticket=Ticket(bot, chat_id, member, mark))

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            now = time.monotonic()
            sent = self._bot_sent.get(ticket.bot, {})
            if ticket.member in sent:
                sent[ticket.member] = now
            key = (ticket.bot, ticket.chat_id)
            if self._chat_sent.get(key) == ticket.mark:
                self._chat_sent[key] = now

    def hold_chat(self, *, bot: str, chat_id: int, seconds: float) -> None:
        with self._lock:
            key = (bot, chat_id)
            self._chat_next[key] = max(self._chat_next.get(key, 0.0), time.monotonic() + seconds)

    def _prune(self, now: float) -> None:
        if now - self._last_prune < self._CHAT_FORGET_SECONDS:
            return
        self._last_prune = now
        horizon = now - self._CHAT_FORGET_SECONDS
        for key in [k for k, until in self._chat_next.items() if until < horizon]:
            del self._chat_next[key]
        for key in [k for k, at in self._chat_sent.items() if at < horizon]:
            del self._chat_sent[key]


def _us(seconds: float) -> int:
    return math.ceil(seconds * 1_000_000)


def _no_slot(wait: float, deadline: float, now: float) -> NoSlot:
    retry_after = wait - max(deadline - now, 0.0)
    return NoSlot(retry_after=min(max(retry_after, NO_SLOT_MIN_RETRY), NO_SLOT_MAX_RETRY))


class SendRateLimiter:
    """Waits for the right to send to a chat, at most until a deadline."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def acquire(self, *, bot: str, chat_id: int, deadline: float) -> Ticket:
        """Schedule and admit one send to ``chat_id``, blocking until it may go out.

        ``deadline`` is a :func:`time.monotonic` value. Returns the admitted send, which the
        caller must :meth:`release` once the API answered (or the call failed). Raises
        :class:`NoSlot` when the send cannot go out before the deadline and
        :class:`LimiterUnavailable` when Redis cannot be asked.
        """
        current = pace()
        while True:
            now = time.monotonic()
            slot = self.backend.reserve(
                bot=bot, chat_id=chat_id, pace=current, max_wait=deadline - now
            )
            if slot.granted:
                if slot.wait > 0:
                    time.sleep(slot.wait)
                break
            if slot.chat_busy and now + slot.wait < deadline:
                # The chat's turn comes before our deadline: wait for it, then compete for the
                # bot's next slot. Nothing is held meanwhile.
                time.sleep(slot.wait)
                continue
            raise _no_slot(slot.wait, deadline, now)
        while True:
            now = time.monotonic()
            admitted = self.backend.admit(bot=bot, chat_id=chat_id, pace=current)
            if admitted.ticket is not None:
                return admitted.ticket
            if now + admitted.wait >= deadline:
                raise _no_slot(admitted.wait, deadline, now)
            time.sleep(admitted.wait)

    def release(self, ticket: Ticket) -> None:
        """The API answered the admitted send (or the call failed): it has arrived, if ever."""
        self.backend.release(ticket)

    def hold_chat(self, *, bot: str, chat_id: int, seconds: float) -> None:
        """After a 429 for this chat: schedule nothing to it for ``seconds``."""
        self.backend.hold_chat(bot=bot, chat_id=chat_id, seconds=seconds)


_limiter_lock = threading.Lock()
_limiter: SendRateLimiter | None = None


def send_rate_limiter() -> SendRateLimiter:
    """The process's limiter: Redis-backed when ``REDIS_URL`` is set, in memory otherwise."""
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            backend: Backend = RedisBackend() if settings.REDIS_URL else MemoryBackend()
            _limiter = SendRateLimiter(backend)
        return _limiter

"""A fast webhook receiver for benchmarks: asyncio, HTTP/1.1 keep-alive, records arrival times.

Not a general HTTP server: it reads request heads and Content-Length bodies, answers 204, and
keeps (webhook-id, wall arrival time) per request. :class:`ReceiverProcess` runs it in a process
of its own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any


class FastReceiver:
    def __init__(self) -> None:
        self.arrivals: list[tuple[str, float]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                message_id = ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    lname = name.strip().lower()
                    if lname == b"content-length":
                        length = int(value.strip())
                    elif lname == b"webhook-id":
                        message_id = value.strip().decode()
                if length:
                    await reader.readexactly(length)
                self.arrivals.append((message_id, time.time()))
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> FastReceiver:
        self._thread.start()
        self._ready.wait(5)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


class _Arrivals:
    """The arrivals of a :class:`ReceiverProcess`, read through its pipe (a list's surface)."""

    def __init__(self, owner: ReceiverProcess) -> None:
        self._owner = owner

    def __len__(self) -> int:
        return int(self._owner._count.value)

    def clear(self) -> None:
        self._owner._ask("clear")

    def _all(self) -> list[tuple[str, float]]:
        return self._owner._ask("get")

    def __getitem__(self, index: int) -> tuple[str, float]:
        return self._all()[index]

    def __iter__(self) -> Iterator[tuple[str, float]]:
        return iter(self._all())


class ReceiverProcess:
    """:class:`FastReceiver` in a process of its own, so that its arrival times are not held back
    by the benchmark's own threads (committers, a bare loop) waiting for the same GIL, as a real
    receiver is a process of its own. ``arrivals`` reads like the in-process one's list."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._count = context.Value("q", 0, lock=False)
        self._conn, child = context.Pipe()
        self._lock = threading.Lock()
        self._process = context.Process(target=self._serve, args=(child,), daemon=True)
        self.arrivals = _Arrivals(self)
        self.port = 0

    def _serve(self, conn: Connection) -> None:
        receiver = FastReceiver()
        count = self._count

        class Counted(list):  # type: ignore[type-arg]
            def append(self, item: tuple[str, float]) -> None:
                super().append(item)
                count.value = len(self)

        receiver.arrivals = Counted()
        receiver.start()
        conn.send(receiver.port)
        while True:
            try:
                command = conn.recv()
            except EOFError:
                return
            if command == "clear":
                receiver.arrivals.clear()
                count.value = 0
                conn.send(None)
            elif command == "get":
                conn.send(list(receiver.arrivals))

    def _ask(self, command: str) -> Any:
        with self._lock:
            self._conn.send(command)
            return self._conn.recv()

    def start(self) -> ReceiverProcess:
        self._process.start()
        self.port = self._conn.recv()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

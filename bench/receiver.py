"""A fast webhook receiver for benchmarks: asyncio, HTTP/1.1 keep-alive, records arrival times.

Not a general HTTP server: it reads request heads and Content-Length bodies, answers 204, and
keeps (webhook-id, monotonic and wall arrival time) per request.
"""

from __future__ import annotations

import asyncio
import threading
import time


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

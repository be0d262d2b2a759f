"""The front of a runtime host: a TCP router from each environment's stable port to the
container serving it now. It runs as its own container (``python3 router_main.py ROUTES
STATUS BIND``); :mod:`.front` writes its routes and reads its status. Standard library
only: this file is copied into the base image, whatever that image has installed.

``ROUTES`` is a directory with one file per public port, holding the backend port
(an empty file: no route). On SIGHUP the router reads it again: a new port is listened on,
a port without a route stops being listened on, a changed backend takes the *next*
connections while open ones finish their request where they started, then are closed
(:class:`Link`). ``STATUS`` is a JSON file,
rewritten after every change: the routes applied, the open connections per backend and
the ports that could not be listened on (with why). That is how a rolling restart knows
that traffic has moved, and when the old container has nothing left to answer.
"""

import asyncio
import collections
import json
import os
import signal
import sys
import time

CHUNK = 1 << 16
QUIET = 0.2  # seconds without bytes from the backend after which an answer is complete
RETIRE_WAIT = 60  # seconds a replaced backend's link may take to become idle
MIN_PORT, MAX_PORT = 1024, 65535


def read_routes(directory: str) -> dict[int, int]:
    """``{public port: backend port}`` from the routes directory; bad entries are skipped."""
    routes = {}
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
            public, backend = int(name), int(text) if text else 0
        except (OSError, ValueError):
            continue
        if MIN_PORT <= public <= MAX_PORT and MIN_PORT <= backend <= MAX_PORT:
            routes[public] = backend
    return routes


class Link:
    """One client connection and the backend connection it was given.

    HTTP/1.1 clients keep connections open between requests. When its backend is
    replaced, a link is closed as soon as it is idle — the last bytes went to the client
    and nothing came since — so the client's next request opens a new connection, to the
    new backend, instead of reaching a container that is stopping.
    """

    def __init__(self, backend: int, writers):
        self.backend, self.writers = backend, writers
        self.waiting = False  # the client sent bytes its backend has not answered yet
        self.last_reply = time.monotonic()

    def sent(self) -> None:
        self.waiting = True

    def answered(self) -> None:
        self.waiting, self.last_reply = False, time.monotonic()

    def idle(self) -> bool:
        return not self.waiting and time.monotonic() - self.last_reply > QUIET

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


async def pipe(reader, writer, on_data) -> None:
    """Copy one direction until end of file, then half-close the other side."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
            on_data()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


class Router:
    def __init__(self, routes_dir: str, status_path: str, bind: str):
        self.routes_dir, self.status_path, self.bind = routes_dir, status_path, bind
        self.routes: dict[int, int] = {}
        self.servers: dict[int, asyncio.AbstractServer] = {}
        self.errors: dict[int, str] = {}
        self.open = collections.Counter()
        self.links: dict[Link, int] = {}  # each open link and its public port
        self.lock = asyncio.Lock()  # two SIGHUPs in a row apply one after the other

    async def apply(self) -> None:
        async with self.lock:
            await self._apply()

    async def _apply(self) -> None:
        wanted = read_routes(self.routes_dir)
        for port in set(self.servers) - set(wanted):
            self.servers.pop(port).close()  # open connections go on until they end
        self.routes = wanted
        self.errors = {}
        for port in sorted(set(wanted) - set(self.servers)):
            try:
                self.servers[port] = await asyncio.start_server(
                    lambda r, w, p=port: self.serve(p, r, w), self.bind, port, reuse_address=True
                )
            except OSError as exc:
                self.errors[port] = exc.strerror or str(exc)
        for link, port in list(self.links.items()):
            if self.routes.get(port) != link.backend:
                asyncio.get_running_loop().create_task(self.retire(link))
        self.write_status()

    async def retire(self, link: Link) -> None:
        """Close a link to a replaced backend once it is idle (at most RETIRE_WAIT later:
        a request still running after that is the old container's to finish or drop)."""
        deadline = time.monotonic() + RETIRE_WAIT
        while link in self.links and time.monotonic() < deadline:
            if link.idle():
                link.close()
                return
            await asyncio.sleep(0.02)

    async def serve(self, port: int, reader, writer) -> None:
        backend = self.routes.get(port)
        if backend is None:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", backend)
        except OSError:
            writer.close()  # nothing serves there: the client sees the connection close
            return
        link = Link(backend, (writer, upstream_writer))
        self.links[link] = port
        self.open[backend] += 1
        self.write_status()
        try:
            await asyncio.gather(
                pipe(reader, upstream_writer, link.sent),
                pipe(upstream_reader, writer, link.answered),
            )
        finally:
            link.close()
            del self.links[link]
            self.open[backend] -= 1
            self.write_status()

    def write_status(self) -> None:
        status = {
            "routes": {str(k): v for k, v in sorted(self.routes.items()) if k in self.servers},
            "open": {str(k): v for k, v in self.open.items() if v},
            "errors": {str(k): v for k, v in self.errors.items()},
        }
        temporary = f"{self.status_path}.tmp"
        with open(temporary, "w", encoding="ascii") as handle:
            json.dump(status, handle)
        os.replace(temporary, self.status_path)  # readers never see half a file


async def main(routes_dir: str, status_path: str, bind: str) -> None:
    router = Router(routes_dir, status_path, bind)
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(router.apply()))
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    await router.apply()
    await stopped.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"))

"""A TCP forwarder that can cut a service off from a server and let it through again.

Services under test connect to the forwarder instead of the server. ``cut()`` drops
every open connection and refuses new ones (they are accepted and closed at once, as a
restarting server does); ``restore()`` lets connections through again. The server
itself (the stack's PostgreSQL, shared by every test) never notices.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class OutageProxy:
    """Forwards 127.0.0.1:``port`` to ``target``, until cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        """Listen on a free loopback port for connections to forward to ``target``."""
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every forwarded connection; refuse new ones until :meth:`restore`."""
        self._cut.set()
        self._drop_all()

    def restore(self) -> None:
        """Forward new connections again."""
        self._cut.clear()

    def close(self) -> None:
        """Stop listening and drop everything."""
        self._closed.set()
        self._listener.close()
        self._drop_all()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self._cut.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._forget(source, sink)

    def _forget(self, *sockets: socket.socket) -> None:
        with self._lock:
            for sock in sockets:
                self._open.discard(sock)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            sockets = list(self._open)
        self._forget(*sockets)


@contextmanager
def outage_proxy(target: tuple[str, int]) -> Iterator[OutageProxy]:
    """An :class:`OutageProxy` to ``target``, closed afterwards."""
    proxy = OutageProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()

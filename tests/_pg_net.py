"""Loopback network helpers for the PostgreSQL tests (127.0.0.1 only, one thread each).

``FakeServer`` speaks just enough of PostgreSQL's protocol to ask for a password and refuse
it (or never answers). ``CutProxy`` forwards every byte between freight and the real server
and, once armed, cuts a connection at its COMMIT, as a network that fails at that moment
would: either before the COMMIT reaches the server or after the server has committed and
started answering, its answer never delivered.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit, urlunsplit

#: the server's CommandComplete for a COMMIT: "C", length 11, "COMMIT\0"
COMMIT_DONE = b"C\x00\x00\x00\x0bCOMMIT\x00"


def close_sockets(*socks: socket.socket) -> None:
    """Shut down and close each socket (the other side may have closed it already)."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the other side
        s.close()


class FakeServer:
    """A TCP server on loopback: ``mode='password'`` asks for a cleartext password, then
    fails authentication the way PostgreSQL does; ``mode='silent'`` never answers."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.mode == "silent":
                continue
            try:
                self.talk(conn)
            except OSError:
                pass  # the client gave up first

    def talk(self, conn: socket.socket) -> None:
        first = conn.recv(8)
        if first[4:8] == (80877103).to_bytes(4, "big"):  # SSLRequest
            conn.sendall(b"N")
            first = conn.recv(8)
        size = int.from_bytes(first[:4], "big")
        conn.recv(size - 8)
        conn.sendall(b"R" + (8).to_bytes(4, "big") + (3).to_bytes(4, "big"))  # cleartext pw
        self.received += conn.recv(4096)
        fields = b'SFATAL\0C28P01\0Mpassword authentication failed for user "postgres"\0\0'
        conn.sendall(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)
        conn.close()

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


class CutProxy:
    """Forwards 127.0.0.1:``port`` to the PostgreSQL server of ``url``. ``arm(mode)`` cuts
    the next connection that sends a COMMIT: ``"before"`` drops the COMMIT itself (the
    server rolls back), ``"after"`` forwards it and drops the server's answer once it holds
    the COMMIT's completion (the server has committed). ``cut`` is set when it happened.
    ``refuse(n)`` closes the next ``n`` connections as soon as they are accepted."""

    def __init__(self, url: str, port: int = 0) -> None:
        parts = urlsplit(url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._parts = parts
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.mode: str | None = None
        self.refusing = 0
        self.cut = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        user = parts.netloc.rpartition("@")[0]
        netloc = f"{user}@127.0.0.1:{self.port}" if user else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def refuse(self, n: int) -> None:
        self.refusing = n

    def arm(self, mode: str) -> None:
        assert mode in ("before", "after")
        self.mode = mode

    def close(self) -> None:
        close_sockets(self.sock)  # shutdown wakes the accepting thread: the port stops listening
        with self._lock:
            close_sockets(*self._open)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.refusing:
                self.refusing -= 1
                close_sockets(client)
                continue
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._open += [client, server]
            pair = _Pair(self, client, server)
            threading.Thread(target=pair.up, daemon=True).start()
            threading.Thread(target=pair.down, daemon=True).start()

    def _take(self, mode: str) -> bool:
        """Whether this COMMIT is the one to cut in ``mode`` (only the first one is)."""
        with self._lock:
            if self.mode != mode:
                return False
            self.mode = None
            return True


class _Pair:
    def __init__(self, proxy: CutProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.holding = False  # after a forwarded COMMIT: hold the server's answer

    def cut(self) -> None:
        close_sockets(self.client, self.server)
        self.proxy.cut.set()

    def up(self) -> None:
        try:
            while data := self.client.recv(65536):
                if b"COMMIT\x00" in data:
                    if self.proxy._take("before"):
                        self.cut()
                        return
                    if self.proxy._take("after"):
                        self.holding = True
                self.server.sendall(data)
        except OSError:
            pass  # the other direction closed both
        close_sockets(self.client, self.server)

    def down(self) -> None:
        held = b""
        try:
            while data := self.server.recv(65536):
                if self.holding:
                    held += data
                    if COMMIT_DONE in held:
                        self.cut()
                        return
                    continue
                self.client.sendall(data)
        except OSError:
            pass  # the other direction closed both
        close_sockets(self.client, self.server)

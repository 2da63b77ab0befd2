"""A loopback TCP proxy (threads, 127.0.0.1 only) between freight and PostgreSQL that
records what passes and can cut the connection after N bytes in one direction."""

from __future__ import annotations

import socket
import threading
from typing import Literal

from _pg_net import close_sockets

Direction = Literal["up", "down"]  # up: client -> server; down: server -> client


class Proxy:
    """Forward 127.0.0.1:<port> to ``target``. With ``cut=(direction, n)`` the connection
    that carries the n-th byte in that direction (counted over every connection, in
    order) forwards exactly n bytes and is then closed both ways, at once (the answer to
    a message ending at byte n is lost too); later connections pass."""

    def __init__(self, target: tuple[str, int], cut: tuple[Direction, int] | None = None) -> None:
        self.target = target
        self.cut = cut
        self.cut_done = False
        self.seen: dict[str, bytearray] = {"up": bytearray(), "down": bytearray()}
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.pairs.append((client, server))
            for src, dst, d in ((client, server, "up"), (server, client, "down")):
                threading.Thread(target=self._pump, args=(src, dst, d), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, d: str) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                close_sockets(src, dst)
                return
            with self.lock:
                cut_here = False
                if self.cut is not None and not self.cut_done and self.cut[0] == d:
                    room = self.cut[1] - len(self.seen[d])
                    if room <= len(data):
                        data, cut_here, self.cut_done = data[: max(room, 0)], True, True
                self.seen[d] += data
            try:
                dst.sendall(data)
            except OSError:
                close_sockets(src, dst)
                return
            if cut_here:
                close_sockets(src, dst)
                return

    def close(self) -> None:
        self.sock.close()
        for a, b in self.pairs:
            close_sockets(a, b)


def messages(stream: bytes, startup: bool) -> list[tuple[int, bytes, bytes]]:
    """The PostgreSQL protocol messages in one direction's bytes: (offset, type, body). The
    client's stream starts with the untyped startup message (``startup``)."""
    out = []
    i = 0
    if startup:
        n = int.from_bytes(stream[:4], "big")
        out.append((0, b"", stream[4:n]))
        i = n
    while i + 5 <= len(stream):
        n = int.from_bytes(stream[i + 1 : i + 5], "big")
        out.append((i, stream[i : i + 1], stream[i + 5 : i + 1 + n]))
        i += 1 + n
    return out


def commit_points(up: bytes, down: bytes) -> tuple[int, int, int, int]:
    """From one recorded load: where the journal-and-COMMIT pipeline starts in the client's
    bytes and where it ends (the server has all of it), where the server's answer to it
    starts and where the COMMIT's own answer starts. A cut at the end (up) or at the
    COMMIT's answer (down) loses the acknowledgement although the server committed."""
    ups = messages(up, startup=True)
    up_start = max(
        off for off, t, body in ups if t == b"P" and b"INSERT" in body and b"_freight_loads" in body
    )
    up_end = max(off + 1 + len(body) + 4 for off, t, body in ups if t not in (b"X", b""))
    downs = messages(down, startup=False)
    commit = max(i for i, (_, t, body) in enumerate(downs) if t == b"C" and body == b"COMMIT\0")
    ready = max(i for i in range(commit) if downs[i][1] == b"Z")
    return up_start, up_end, downs[ready + 1][0], downs[commit][0]

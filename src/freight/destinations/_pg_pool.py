"""A small connection pool for the PostgreSQL destination."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg.pq import TransactionStatus


class Pool:
    """Idle connections kept for reuse (last in, first out), at most ``size``. Connections
    open on demand in the caller's thread, so a failure to connect surfaces at once with its
    real reason; a connection idle for over ``check_after`` seconds is checked before reuse.
    After a fork the child never touches the parent's sockets."""

    def __init__(
        self, connect: Callable[[], psycopg.Connection], size: int, check_after: float = 30.0
    ):
        self._connect = connect
        self.size = size
        self.check_after = check_after
        self._idle: list[tuple[psycopg.Connection, float]] = []
        self._orphans: list[psycopg.Connection] = []  # the parent's, after a fork: never closed
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.opened = self.reused = 0

    def get(self) -> psycopg.Connection:
        while True:
            with self._lock:
                if self._pid != os.getpid():
                    self._orphans += [c for c, _ in self._idle]
                    self._idle, self._pid = [], os.getpid()
                if not self._idle:
                    break
                conn, since = self._idle.pop()
            if conn.closed or (time.monotonic() - since > self.check_after and not _alive(conn)):
                conn.close()
                continue
            self.reused += 1
            return conn
        conn = self._connect()
        self.opened += 1
        return conn

    def put(self, conn: psycopg.Connection) -> None:
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            try:
                conn.rollback()
            except psycopg.Error:
                conn.close()
        with self._lock:
            if not conn.closed and self._pid == os.getpid() and len(self._idle) < self.size:
                self._idle.append((conn, time.monotonic()))
                return
        if self._pid == os.getpid():
            conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


def _alive(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
        conn.rollback()
        return True
    except psycopg.Error:
        return False

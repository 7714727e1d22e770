"""A Unix-socket relay: an embedded Postgres (which listens on a socket in its own private
data directory, no TCP) reached from an agent's container.

The launcher serves a socket named as Postgres names its own (``.s.PGSQL.<port>``) in the
gateway's directory, which the container has mounted, and passes the container a URL with
that directory as its host. Each connection is piped to the real socket, byte for byte;
the database's directory is never shown to the container.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg

from aito.runtime import gateway

CHUNK = 65536


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    target: str


class _Pipe(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.server.target)
        except OSError:
            return  # the container sees the connection closed, as with a server gone
        inbound: socket.socket = self.request
        back = threading.Thread(target=_pump, args=(upstream, inbound), daemon=True)
        back.start()
        _pump(inbound, upstream)
        back.join()
        upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(CHUNK):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def socket_of(url: str) -> Path | None:
    """The socket a Postgres URL connects through, or None for a TCP address."""
    found = psycopg.conninfo.conninfo_to_dict(url)
    host = str(found.get("host") or "")
    if not host.startswith("/"):
        return None
    return Path(host) / f".s.PGSQL.{found.get('port') or 5432}"


def through(url: str, directory: str) -> str:
    """``url`` with its socket directory replaced by ``directory`` (the relay's)."""
    return psycopg.conninfo.make_conninfo(url, host=directory)


@contextlib.contextmanager
def relaying(target: Path, *, directory: Path, mode: int = 0o600) -> Iterator[Path]:
    """Serve ``directory/<target's name>`` (file mode ``mode``) piped to ``target`` while
    the block runs."""
    path = directory / target.name
    server = _Server(str(path), _Pipe)
    server.target = str(target)
    path.chmod(mode)
    with gateway.in_background(server, path, name="aito-relay"):
        yield path

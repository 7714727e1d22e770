"""A small local IMAP4rev1 server (RFC 3501) for the email connector's tests: enough of
the protocol for Python's imaplib, holding RFC 5322 messages in mailboxes, recording
every command it received.

It speaks: the greeting, CAPABILITY, NOOP, LOGIN (one user and password), SELECT and
EXAMINE (read-only), UID SEARCH (ALL, SEEN, UNSEEN, HEADER field string; criteria
ANDed), UID FETCH of a UID set (``5``, ``1,3``, ``2:*``) with UID, FLAGS, BODY[] (which
sets \\Seen, as a server must unless read-only) and BODY.PEEK[] (which never does),
the message as a literal; UID STORE (+FLAGS/-FLAGS/FLAGS) and LOGOUT. Tagged OK, NO or
BAD as RFC 3501 says. ``tls``: implicit TLS (imaps) from the first byte.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\()|(\))|([^\s()"]+)')


@dataclasses.dataclass
class Stored:
    uid: int
    raw: bytes
    flags: set[str] = dataclasses.field(default_factory=set)

    def header(self, name: str) -> str:
        found = re.search(
            rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*(?:\r?\n[ \t].*)*)",
            self.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0],
            re.IGNORECASE | re.MULTILINE,
        )
        return found.group(1).decode("utf-8", "replace").strip() if found else ""


@dataclasses.dataclass
class ImapState:
    user: str
    password: str
    mailboxes: dict[str, list[Stored]]
    port: int = 0
    commands: list[str] = dataclasses.field(default_factory=list)
    """Each command line received (its tag dropped)."""
    logins: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def add(self, mailbox: str, raw: bytes, *, seen: bool = False) -> Stored:
        box = self.mailboxes.setdefault(mailbox, [])
        stored = Stored(
            max((m.uid for m in box), default=100) + 1, raw, {"\\Seen"} if seen else set()
        )
        box.append(stored)
        return stored


def _tokens(text: bytes) -> list[str]:
    out: list[str] = []
    for quoted, opening, closing, atom in _TOKEN.findall(text):
        if opening or closing:
            out.append((opening or closing).decode())
        elif atom:
            out.append(atom.decode())
        else:
            out.append(re.sub(rb"\\(.)", rb"\1", quoted).decode())
    return out


def _uids(spec: str, box: list[Stored]) -> list[Stored]:
    top = max((m.uid for m in box), default=0)
    wanted: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition(":")
        first = top if low == "*" else int(low)
        last = first if not high else (top if high == "*" else int(high))
        wanted.update(range(min(first, last), max(first, last) + 1))
    return [m for m in box if m.uid in wanted]


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def send(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def handle(self) -> None:
        state = self.server.state
        self.user: str | None = None
        self.box: list[Stored] | None = None
        self.read_only = False
        self.send(b"* OK AITO test IMAP4rev1 server ready")
        while line := self.rfile.readline(65536):
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            state.commands.append(rest.decode("utf-8", "replace"))
            words = _tokens(rest)
            if not words:
                self.send(tag + b" BAD no command")
                continue
            command, args = words[0].upper(), words[1:]
            if command == "LOGOUT":
                self.send(b"* BYE logging out")
                self.send(tag + b" OK LOGOUT completed")
                return
            self.send(tag + b" " + self.answer(command, args, state).encode())

    def answer(self, command: str, args: list[str], state: ImapState) -> str:
        if command == "CAPABILITY":
            self.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN")
            return "OK CAPABILITY completed"
        if command == "NOOP":
            return "OK NOOP completed"
        if command == "LOGIN":
            if len(args) != 2:
                return "BAD LOGIN takes a user and a password"
            state.logins.append((args[0], args[1]))
            if (args[0], args[1]) != (state.user, state.password):
                return "NO [AUTHENTICATIONFAILED] Invalid credentials"
            self.user = args[0]
            return "OK LOGIN completed"
        if self.user is None:
            return "BAD log in first"
        if command in ("SELECT", "EXAMINE"):
            if len(args) != 1 or args[0] not in state.mailboxes:
                self.box = None
                return "NO [NONEXISTENT] no such mailbox"
            self.box, self.read_only = state.mailboxes[args[0]], command == "EXAMINE"
            top = max((m.uid for m in self.box), default=100)
            self.send(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
            self.send(b"* %d EXISTS" % len(self.box))
            self.send(b"* 0 RECENT")
            self.send(b"* OK [UIDVALIDITY 1] UIDs valid")
            self.send(b"* OK [UIDNEXT %d] predicted next UID" % (top + 1))
            mode = "READ-ONLY" if self.read_only else "READ-WRITE"
            return f"OK [{mode}] {command} completed"
        if self.box is None:
            return "BAD select a mailbox first"
        if command == "UID" and args:
            sub, rest = args[0].upper(), args[1:]
            if sub == "SEARCH":
                return self.search(rest)
            if sub == "FETCH" and len(rest) >= 2:
                return self.fetch(rest[0], [w.upper() for w in rest[1:]])
            if sub == "STORE" and len(rest) >= 3:
                return self.store(rest[0], rest[1].upper(), rest[2:])
        return f"BAD {command} is not understood here"

    def search(self, criteria: list[str]) -> str:
        assert self.box is not None
        found = list(self.box)
        words = list(criteria)
        while words:
            key = words.pop(0).upper()
            if key == "ALL":
                continue
            if key in ("SEEN", "UNSEEN"):
                found = [m for m in found if ("\\Seen" in m.flags) == (key == "SEEN")]
            elif key == "HEADER" and len(words) >= 2:
                name, value = words.pop(0), words.pop(0).lower()
                found = [m for m in found if value in m.header(name).lower()]
            else:
                return f"BAD search key {key} is not supported"
        self.send(b" ".join([b"* SEARCH", *(str(m.uid).encode() for m in found)]))
        return "OK UID SEARCH completed"

    def fetch(self, spec: str, items: list[str]) -> str:
        assert self.box is not None
        wanted = " ".join(items).strip("() ").split()
        for stored in _uids(spec, self.box):
            if "BODY[]" in wanted and not self.read_only:
                stored.flags.add("\\Seen")  # RFC 3501 6.4.5: BODY[] sets \Seen
            number = self.box.index(stored) + 1
            parts = [f"UID {stored.uid}"]
            if "FLAGS" in wanted:
                parts.append(f"FLAGS ({' '.join(sorted(stored.flags))})")
            line = f"* {number} FETCH ({' '.join(parts)}".encode()
            if "BODY[]" in wanted or "BODY.PEEK[]" in wanted:
                self.wfile.write(line + b" BODY[] {%d}\r\n" % len(stored.raw) + stored.raw)
                self.send(b")")
            else:
                self.send(line + b")")
        return "OK UID FETCH completed"

    def store(self, spec: str, how: str, flags: list[str]) -> str:
        assert self.box is not None
        if self.read_only:
            return "NO [READ-ONLY] the mailbox is read-only"
        given = {f for f in flags if f not in ("(", ")")}
        for stored in _uids(spec, self.box):
            if how.startswith("+FLAGS"):
                stored.flags |= given
            elif how.startswith("-FLAGS"):
                stored.flags -= given
            else:
                stored.flags = set(given)
        return "OK UID STORE completed"


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: ImapState, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.state, self.tls = state, tls

    def get_request(self) -> tuple[socket.socket, object]:
        conn, address = super().get_request()
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=True)
        return conn, address


@contextmanager
def imap_server(
    *,
    user: str,
    password: str,
    mailboxes: dict[str, list[bytes]] | None = None,
    tls: ssl.SSLContext | None = None,
) -> Iterator[ImapState]:
    """An IMAP server on 127.0.0.1 (a free port) with one user; ``mailboxes`` maps a name
    to its messages (unseen), oldest first (UIDs from 101)."""
    state = ImapState(user, password, {"INBOX": []})
    for name, messages in (mailboxes or {}).items():
        for raw in messages:
            state.add(name, raw)
    server = _Server(state, tls)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

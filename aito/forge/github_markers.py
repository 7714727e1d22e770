"""Operation markers: how a POST retried after a lost reply finds what it already made.

A reply can be lost after GitHub acted (a reset connection, a timeout, an empty 502):
posting again would make a second comment, review, issue or pull request. So every one
the forge creates carries an invisible marker at the end of its body,
``<!-- aito:op=<key> -->``, and a retry after such an uncertain failure first looks for
it among the acting account's own items (see ``GitHubCalls._call``'s ``recover``).

The key is derived from the operation (what, where, as whom, the body) and a nonce drawn
once per call, so it names this one call: an identical comment made legitimately
before is never taken for it, and nobody can write a matching marker before the call
is made. Only items whose author is the acting account count, so a marker copied into
someone else's comment never suppresses a real action. Markers are stripped from every
body the forge hands back (:func:`strip`), so bodies read back exactly as written.
"""

from __future__ import annotations

import hashlib
import re
import secrets

_MARKER = re.compile(r"(?:\r?\n\r?\n)?<!-- aito:op=[0-9a-f]{24} -->\s*\Z")


def new_key(*parts: object) -> str:
    """A key for one call: the operation's digest and a fresh nonce, 24 hex digits."""
    material = "\x1f".join(str(part) for part in parts) + "\x1f" + secrets.token_hex(16)
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def tag(key: str) -> str:
    return f"<!-- aito:op={key} -->"


def marked(body: str, key: str) -> str:
    """``body`` with the marker of ``key`` at its end (on a line of its own)."""
    return f"{body}\n\n{tag(key)}" if body else tag(key)


def carries(body: str | None, key: str) -> bool:
    """Whether ``body`` ends with the marker of ``key`` (as :func:`marked` put it)."""
    return bool(body) and (body or "").rstrip().endswith(tag(key))


def strip(body: str | None) -> str:
    """``body`` without a trailing operation marker (the text as the caller wrote it)."""
    return _MARKER.sub("", body or "")

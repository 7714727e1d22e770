"""Parameter types: every value is checked by click before a command does anything.

A value that does not fit is a usage error (exit 2) naming the option and saying what
would fit. Messages quote at most a short prefix of what was given. Text must be valid
UTF-8 (no lone surrogates from undecodable arguments) without NUL or other control
characters (newlines and tabs only where a text may span lines).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from pathlib import Path, PurePosixPath
from typing import Any

import click

from aito.cli import context
from aito.decisions import proposing
from aito.errors import PermissionDenied
from aito.org.agents import Layer
from aito.org.messages import GROUP_TARGETS
from aito.services import managing

MAX_CARRIED_BYTES = 10 * 1024 * 1024
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)  # room for deadlines after it


def short(value: object, limit: int = 40) -> str:
    """``value`` quoted and cut to ``limit`` characters, for messages."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def check_text(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` is not usable text, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    allowed = "\n\t\r" if multiline else ""
    for char in value:
        if (ord(char) < 32 and char not in allowed) or char == "\x7f":
            return f"contains the control character {char!r}"
    return None


class Text(click.ParamType[str, Any]):
    """Free text: a title, a body, a query (bounded, no control characters)."""

    name = "text"

    def __init__(
        self, *, max_length: int = 1000, multiline: bool = False, blank: bool = True
    ) -> None:
        self.max_length, self.multiline, self.blank = max_length, multiline, blank

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        problem = check_text(text, multiline=self.multiline)
        if problem:
            self.fail(problem, param, ctx)
        if not self.blank and not text.strip():
            self.fail("must not be empty", param, ctx)
        if len(text) > self.max_length:
            self.fail(f"is longer than {self.max_length:,} characters", param, ctx)
        return text


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=\[\]/#-]{0,199}")
"""``#`` included: a worker's run id is its requester's run and position (``…#0``)."""


class Name(click.ParamType[str, Any]):
    """An identifier: a run id, a message id, a login, an action type."""

    name = "name"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not _NAME.fullmatch(text):
            self.fail(
                f"{short(text)} is not a name: letters, digits and . _ : @ + = [ ] / # -, "
                "starting with a letter or digit, at most 200 characters",
                param,
                ctx,
            )
        return text


class Domain(click.ParamType[str, Any]):
    """A host a connector may reach: `example.org`, `*.example.org`, an IPv4 address or
    `localhost` (a name with a dot, or localhost)."""

    name = "domain"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().lower()
        if not (_DOMAIN.fullmatch(text) and ("." in text or text == "localhost")):
            self.fail(
                f"{short(text)} is not a domain: e.g. blog.example.org, *.example.org, "
                "127.0.0.1 or localhost",
                param,
                ctx,
            )
        return text


_DOMAIN = re.compile(
    r"(\*\.)?[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*"
)


class Host(click.ParamType[str, Any]):
    """An address to listen on: an IPv4 or IPv6 address, `localhost`, or a host name."""

    name = "host"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().lower()
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            pass
        labels = text.split(".")
        if not (
            text
            and len(text) <= 253
            and "*" not in text
            and _DOMAIN.fullmatch(text)
            and not labels[-1].isdigit()
        ):
            self.fail(
                f"{short(text)} is not an address to listen on: e.g. 127.0.0.1, ::1, "
                "0.0.0.0 or localhost",
                param,
                ctx,
            )
        return text


class Agent(click.ParamType[str, Any]):
    """An agent id of the organization (and, with ``groups``, all / head / clevel)."""

    name = "agent"

    def __init__(self, *, workers: bool = True, groups: bool = False) -> None:
        self.workers, self.groups = workers, groups

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if self.groups and text in GROUP_TARGETS:
            return text
        if check_text(text) or not text:
            self.fail(f"{short(text)} is not an agent id", param, ctx)
        org = context.state(ctx).organization() if ctx else None
        if org is None:
            return text
        if text not in org.agents:
            known = sorted(org.agents)
            listed = ", ".join(known[:30]) + (", …" if len(known) > 30 else "")
            groups = f"; or a group: {', '.join(GROUP_TARGETS)}" if self.groups else ""
            self.fail(f"no agent {short(text)}; agents: {listed}{groups}", param, ctx)
        if not self.workers and org.agents[text].layer is Layer.WORKER:
            self.fail(
                f"{text} is a worker kind: workers are spawned by their C-level, not woken",
                param,
                ctx,
            )
        return text


class Reviewer(click.ParamType[str, Any]):
    """Who acts: an agent with a bot account, or a maintainer's or human member's login."""

    name = "agent-or-login"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if check_text(text) or not text or len(text) > 100:
            self.fail(f"{short(text)} is not an agent id or a login", param, ctx)
        org = context.state(ctx).organization() if ctx else None
        if org is None:
            return text
        try:
            proposing.identity_for(org, text)  # the one rule of who has a forge account
        except PermissionDenied as exc:
            self.fail(str(exc), param, ctx)
        return text


class Moment(click.ParamType[dt.datetime, Any]):
    """An ISO 8601 time; without a time zone it is UTC."""

    name = "iso-time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        text = str(value)
        try:
            parsed = dt.datetime.fromisoformat(text)
            moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
            moment = moment.astimezone(dt.UTC)
        except (ValueError, OverflowError):
            self.fail(
                f"{short(text)} is not an ISO 8601 time; write e.g. 2025-06-01T12:00:00Z",
                param,
                ctx,
            )
        if not EARLIEST <= moment < LATEST:
            self.fail(f"{short(text)} is not between 1970 and 9000", param, ctx)
        return moment


class Amount(click.ParamType[float, Any]):
    """A sum of US dollars: a finite number, 0 or more."""

    name = "usd"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            amount = float(value)
        except (TypeError, ValueError):
            self.fail(f"{short(value)} is not a number of US dollars", param, ctx)
        if not math.isfinite(amount):
            self.fail(f"{short(value)} is not a finite number", param, ctx)
        if amount < 0:
            self.fail(f"{amount:g} is negative; amounts are 0 or more", param, ctx)
        if amount > 1e12:
            self.fail(f"{amount:g} is more than 1,000,000,000,000", param, ctx)
        return amount


class Seconds(click.FloatRange):
    """A finite number of seconds within a range (NaN is no number)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{short(value)} is not a number", param, ctx)
        return seconds


class LocalPath(click.Path):
    """A local path whose text is usable (checked before the file system is asked)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        problem = check_text(text) or ("is empty" if not text else None)
        if problem:
            self.fail(f"the path {problem}", param, ctx)
        if len(text) > 4096:
            self.fail("the path is longer than 4,096 characters", param, ctx)
        return super().convert(value, param, ctx)


def directory() -> LocalPath:
    return LocalPath(file_okay=False, path_type=Path)


def readable_file() -> LocalPath:
    return LocalPath(exists=True, dir_okay=False, readable=True, path_type=Path)


def writable_directory(path: Path, *, option: str) -> Path:
    """Create ``path`` if needed; a usage error if AITO cannot write there."""
    reason = managing.unwritable_reason(path)
    if reason is not None:
        raise click.BadParameter(f"cannot write in {short(path, 200)}: {reason}", param_hint=option)
    return path


def read_text(path: Path, *, option: str, limit: int = 1_000_000) -> str:
    """A UTF-8 text file given as an option, or a usage error saying why not."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint=option) from exc
    if len(data) > limit:
        raise click.BadParameter(f"{path} is larger than {limit:,} bytes", param_hint=option)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{path} is not UTF-8 text", param_hint=option) from exc
    problem = check_text(text, multiline=True)
    if problem:
        raise click.BadParameter(f"{path} {problem}", param_hint=option)
    return text


class CarriedFile(click.ParamType[tuple[str, bytes], Any]):
    """``REPO_PATH=LOCAL_FILE``: a file a decision carries; the path must stay inside the repo."""

    name = "repo_path=local_file"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, bytes]:
        if isinstance(value, tuple):
            return value
        text = str(value)
        target, sep, source = text.partition("=")
        if not sep or not target or not source:
            self.fail(f"{short(text)}: write REPO_PATH=LOCAL_FILE", param, ctx)
        problem = repo_path_problem(target)
        if problem:
            self.fail(f"REPO_PATH {short(target)} {problem}", param, ctx)
        local = readable_file().convert(source, param, ctx)
        try:
            size = local.stat().st_size
            if size > MAX_CARRIED_BYTES:
                self.fail(f"{local} is larger than {MAX_CARRIED_BYTES:,} bytes", param, ctx)
            return target, local.read_bytes()
        except OSError as exc:
            self.fail(f"cannot read {local}: {exc.strerror}", param, ctx)


def repo_path_problem(path: str) -> str | None:
    """Why ``path`` is not a plain relative path inside a repository, or None."""
    problem = check_text(path)
    if problem:
        return problem
    if len(path) > 400:
        return "is longer than 400 characters"
    if "\\" in path:
        return "uses a backslash; write paths with /"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "is absolute; write a path inside the repository"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, . or .. segment"
    if PurePosixPath(path).parts[0] == ".git":
        return "is inside .git"
    return None


TITLE_OPTION = click.option(
    "--title",
    type=Text(max_length=200, blank=False),
    required=True,
    help="One line, at most 200 characters.",
)
"""A decision's title (`decide propose` and `decide new`)."""

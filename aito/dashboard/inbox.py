"""The human inbox and the maintainer's writes: login, logout, approve, veto, merge, close.

``GET /inbox`` lists what needs a human (:mod:`aito.views.inbox`); anyone may read it.
The writes are POSTs that need a maintainer's session (:mod:`aito.dashboard.sessions`)
and its CSRF token; without either they are refused (403) and nothing is written. A
write goes through the forge **as that maintainer**, exactly as the CLI does it:

- approve / veto: a review on the pull request's head, as `aito decide review
  --as LOGIN` posts it (nothing else runs after it, as after the CLI's);
- merge / close: the pull request merged at its head or closed, as `aito decide
  merge|close --as LOGIN` does, then tallied as that command does on the local forge (on
  GitHub the governance workflow tallies it on the merge or close).

The inbox shows each pull request at the commit its last tally judged, and its form sends
that commit (``head``). A write whose ``head`` is no longer the pull request's head is
refused (409) and writes nothing: whoever can push to the branch cannot slip a commit in
between what the maintainer looked at and their approval or merge. The maintainer looks
again once the new commit is tallied. (A client that sends no ``head`` acts on the head
of the moment, as the CLI does.)

On the local forge the forge records the maintainer's configured login and id; on GitHub
the maintainer's own token makes the call, so GitHub shows them as its author. A token
GitHub no longer accepts as theirs (revoked, expired) ends the session with a 401 that
says to log in again, before anything is written; so does one the forge refuses during
the write itself (``Writes.login_refused``).

Every write is appended to the audit log (``dashboard.review``, ``dashboard.merge``,
``dashboard.close``: who, which pull request, what), never with a secret. A GET never
writes.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aito.dashboard import sessions as sessions_
from aito.decisions import proposing, reading
from aito.errors import AdapterError, AitoError, GovernanceError, PermissionDenied
from aito.forge.base import Forge, Identity
from aito.org import loading
from aito.views import inbox, ports

PAGE = 25
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
ACTIONS = ("approve", "veto", "merge", "close")
DONE = {
    "approve": "approved",
    "veto": "requested changes on (a veto)",
    "merge": "merged",
    "close": "closed",
}
Render = Callable[..., Response]


class EventLog(Protocol):
    """Where a write is recorded (the memory's audit log)."""

    def append_event(
        self,
        *,
        event_type: str,
        payload: dict[str, Any],
        source_agent: str | None = None,
        target_agent: str | None = None,
        run_id: str | None = None,
        decision_id: str | None = None,
    ) -> None: ...


@dataclasses.dataclass(frozen=True)
class Writes:
    """How maintainers log in and write (None in :func:`routes`: the inbox is read-only).

    ``forge_for`` gives the forge a session writes through: the local forge (which records
    the actor of each call), or on GitHub a forge made with the maintainer's own token.
    ``after`` runs what the CLI runs after a merge or close (the tally; None: nothing).
    ``login_refused`` tells a forge error that says the maintainer's own token was refused
    during the write (on GitHub, a 401: revoked after the check that preceded it).
    """

    kind: str
    """``local`` (one-time tokens) or ``github`` (the device flow)."""
    sessions: sessions_.Sessions
    events: EventLog
    forge_for: Callable[[sessions_.Session], Forge]
    after: Callable[[Forge, int], None] | None = None
    device: sessions_.DeviceFlow | None = None
    login_refused: Callable[[AdapterError], bool] | None = None


class SessionScope:
    """Puts the logged-in maintainer (login and CSRF token) in the request's scope for
    every page's navigation, and keeps every page out of frames (the write forms cannot be
    clicked through an invisible overlay)."""

    def __init__(self, app: ASGIApp, writes: Writes | None) -> None:
        self.app, self.writes = app, writes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["aito.writes"] = self.writes is not None
        scope["aito.maintainer"] = None
        scope["aito.csrf"] = None
        if self.writes is not None:
            found = self.writes.sessions.find(Request(scope).cookies.get(sessions_.COOKIE))
            if found is not None:
                scope["aito.maintainer"] = found.maintainer.login
                scope["aito.csrf"] = found.csrf

        async def framed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, framed)


def routes(
    organization: Callable[[], loading.Organization],
    memory: ports.Memory,
    writes: Writes | None,
    render: Render,
) -> list[Route]:
    """The inbox page, the login pages and the write routes."""

    def maintainers() -> list[Identity]:
        return [Identity(m.login, m.id) for m in organization().org.maintainers]

    def private(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response

    def inbox_page(request: Request) -> Response:
        waiting = inbox.waiting(
            memory, limit=PAGE, cursor=request.query_params.get("after_decisions") or None
        )
        alerts = inbox.alerts(
            memory, limit=PAGE, cursor=request.query_params.get("after_alerts") or None
        )
        action = request.query_params.get("done")
        decided = request.query_params.get("decision")
        done = (
            f"You {DONE[action]} {decided}."
            if action in DONE and decided and memory.decision(decided) is not None
            else None
        )
        return private(
            render(
                request,
                "inbox.html",
                waiting=waiting,
                alerts=alerts,
                done=done,
                can_write=_session(request) is not None,
                forge_kind=writes.kind if writes else None,
            )
        )

    def login_page(request: Request) -> Response:
        return private(_login(request, http_status=200))

    def _login(request: Request, *, http_status: int, problem: str | None = None) -> Response:
        token = request.query_params.get("token") or ""
        named = writes.sessions.token_is_live(token) if writes and token else None
        pending = (
            writes.sessions.device(request.cookies.get(sessions_.DEVICE_COOKIE))
            if writes is not None and writes.kind == "github"
            else None
        )
        return render(
            request,
            "login.html",
            http_status=http_status,
            forge_kind=writes.kind if writes else None,
            token=token if named else "",
            named=named.login if named else None,
            pending=pending,
            problem=problem,
        )

    def _session(request: Request) -> sessions_.Session | None:
        if writes is None:
            return None
        return writes.sessions.find(request.cookies.get(sessions_.COOKIE))

    def _logged_in(session: sessions_.Session) -> Response:
        assert writes is not None
        response = RedirectResponse("/inbox", status_code=303)
        _set_cookie(
            response, sessions_.COOKIE, writes.sessions.cookie(session.id),
            max_age=sessions_.SESSION_SECONDS,
        )  # fmt: skip
        response.delete_cookie(sessions_.DEVICE_COOKIE, path="/")
        return private(response)

    async def login_token(request: Request) -> Response:
        _same_origin(request)
        if writes is None or writes.kind != "local":
            raise HTTPException(404, "this dashboard takes no login token")
        form = await _form(request)
        token = form.get("token", "")
        who = writes.sessions.redeem(token) if token else None
        current = sessions_.maintainer_by_id(maintainers(), who.id) if who else None
        if who is None or current is None:
            return private(
                _login(
                    request,
                    http_status=403,
                    problem="That token is not valid (each token logs in once; "
                    "restart `aito dashboard --maintainer LOGIN` for a new one).",
                )
            )
        return _logged_in(writes.sessions.open(current))

    async def login_github(request: Request) -> Response:
        _same_origin(request)
        if writes is None or writes.device is None:
            raise HTTPException(404, "this dashboard has no GitHub login")
        device = writes.device
        try:
            code = await run_in_threadpool(device.start)
        except AitoError as exc:
            return private(_login(request, http_status=502, problem=str(exc)))
        pending = writes.sessions.hold_device(code)
        response = RedirectResponse("/login", status_code=303)
        _set_cookie(
            response, sessions_.DEVICE_COOKIE, writes.sessions.cookie(pending.id),
            max_age=sessions_.DEVICE_SECONDS,
        )  # fmt: skip
        return private(response)

    async def login_github_poll(request: Request) -> Response:
        _same_origin(request)
        if writes is None or writes.device is None:
            raise HTTPException(404, "this dashboard has no GitHub login")
        device = writes.device
        pending = writes.sessions.device(request.cookies.get(sessions_.DEVICE_COOKIE))
        if pending is None:
            return private(
                _login(request, http_status=400, problem="No GitHub login under way: start one.")
            )

        def finish() -> tuple[Identity, SecretStr] | None:
            token = device.poll(pending.device_code)
            return None if token is None else (device.user(token), token)

        try:
            found = await run_in_threadpool(finish)
        except AitoError as exc:
            writes.sessions.drop_device(pending)
            return private(_login(request, http_status=502, problem=str(exc)))
        if found is None:
            return private(
                _login(
                    request,
                    http_status=200,
                    problem="GitHub has not seen the code yet: enter it there, then continue.",
                )
            )
        writes.sessions.drop_device(pending)
        user, token = found
        # Only the numeric id decides; the login GitHub sends is never trusted for that.
        maintainer = sessions_.maintainer_by_id(maintainers(), user.id)
        if maintainer is None:
            return private(
                _login(
                    request,
                    http_status=403,
                    problem="That GitHub account is not a maintainer of this organization "
                    "(org/org.yaml `maintainers`, by numeric id): the dashboard stays read-only.",
                )
            )
        return _logged_in(writes.sessions.open(maintainer, token=token))

    async def logout(request: Request) -> Response:
        session = await _authorised(request)
        assert writes is not None
        writes.sessions.close(session)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(sessions_.COOKIE, path="/")
        return private(response)

    async def _authorised(request: Request) -> sessions_.Session:
        """The session of a POST that may write: same origin, logged in, CSRF token right,
        still a maintainer; else 403 (and nothing is written)."""
        _same_origin(request)
        session = _session(request)
        if session is None:
            raise HTTPException(403, "log in as a maintainer first (/login)")
        form = await _form(request)
        if not sessions_.Sessions.csrf_ok(session, form.get("csrf")):
            raise HTTPException(403, "this form is stale or was not made by this dashboard")
        if sessions_.maintainer_by_id(maintainers(), session.maintainer.id) is None:
            raise HTTPException(403, f"{session.maintainer.login} is no longer a maintainer")
        return session

    async def decide(request: Request) -> Response:
        session = await _authorised(request)  # 403 on a read-only dashboard too
        assert writes is not None
        action = request.path_params["action"]
        decision_id = request.path_params["decision_id"]
        if action not in ACTIONS:
            raise HTTPException(404, f"no action {action!r}; one of {', '.join(ACTIONS)}")
        row = memory.decision(decision_id)
        if row is None:
            raise HTTPException(404, f"no decision {decision_id!r}")
        number = row.get("pr_number")
        if not number:
            raise HTTPException(409, f"{decision_id} has no pull request")
        form = await _form(request)
        body = form.get("body", "").strip()[:60_000]
        seen = form.get("head", "").strip().lower() or None
        if seen is not None and not _COMMIT.fullmatch(seen):
            raise HTTPException(400, "head must be the commit id the inbox showed")
        who = session.maintainer

        def act() -> None:
            forge = writes.forge_for(session)
            try:
                write(forge)
            finally:  # a forge per write: its connections (or git process) end with it
                disconnect = getattr(forge, "disconnect", None)
                if callable(disconnect):
                    disconnect()

        def write(forge: Forge) -> None:
            pull = forge.pull(number)
            if reading.decision_of(forge, pull).id != decision_id:
                raise GovernanceError(f"#{number} is not the pull request of {decision_id}")
            if seen is not None and pull.head_sha.lower() != seen:
                raise GovernanceError(
                    f"#{number} moved to {pull.head_sha[:12]} after the inbox showed it at "
                    f"{seen[:12]}: nothing was written. Look at the new commit, then act from "
                    "the inbox once it is tallied."
                )
            head = seen or pull.head_sha
            if action in ("approve", "veto"):
                proposing.review(forge, number, author=who, vote=action, body=body, sha=head)
            else:
                proposing.by_hand(forge, number, actor=who, merge=action == "merge", sha=head)
            writes.events.append_event(
                event_type="dashboard.review"
                if action in ("approve", "veto")
                else f"dashboard.{action}",
                payload={
                    "by": who.login,
                    "user_id": who.id,
                    "pr": number,
                    "action": action,
                    "forge": writes.kind,
                },
                decision_id=decision_id,
            )
            if action in ("merge", "close") and writes.after is not None:
                writes.after(forge, number)

        try:
            await run_in_threadpool(act)
        except sessions_.LoginRejected as exc:  # nothing was written; the session ends
            writes.sessions.close(session)
            raise HTTPException(401, str(exc)) from exc
        except (GovernanceError, PermissionDenied) as exc:
            raise HTTPException(409, str(exc)) from exc
        except AdapterError as exc:
            if writes.login_refused is not None and writes.login_refused(exc):
                writes.sessions.close(session)  # the token is dead: so is the session
                raise HTTPException(
                    401,
                    f"the forge refused your token as {who.login} during the write (revoked "
                    f"just now?): log in again, then check #{number} for what was written",
                ) from exc
            raise HTTPException(502, f"the forge failed: {exc}") from exc
        query = urllib.parse.urlencode({"done": action, "decision": decision_id})
        return private(RedirectResponse(f"/inbox?{query}", status_code=303))

    return [
        Route("/inbox", inbox_page, name="inbox"),
        Route("/login", login_page, name="login"),
        Route("/login", login_token, methods=["POST"], name="login_token"),
        Route("/login/github", login_github, methods=["POST"], name="login_github"),
        Route("/login/github/poll", login_github_poll, methods=["POST"], name="login_poll"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/inbox/decisions/{decision_id}/{action}", decide, methods=["POST"], name="decide"),
    ]


def _set_cookie(response: Response, name: str, value: str, *, max_age: int) -> None:
    """A signed id the browser keeps from scripts and other sites (no ``Secure``: the
    dashboard serves plain HTTP on 127.0.0.1; a TLS proxy in front may add it)."""
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict", secure=False, path="/"
    )


def _same_origin(request: Request) -> None:
    """A POST another site's page made (its Origin says so) is refused."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser's form post (the CSRF token still guards it)
        return
    mine = f"{request.url.scheme}://{request.url.netloc}"
    if origin != mine:
        raise HTTPException(403, "this form was sent from another site")


async def _form(request: Request) -> dict[str, str]:
    """An url-encoded form's fields (the first value of each); cached on the request."""
    cached = request.scope.get("aito.form")
    if isinstance(cached, dict):
        return cached
    raw = await request.body()
    if len(raw) > 256_000:
        raise HTTPException(413, "this form is too large")
    parsed = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    fields = {key: values[0] for key, values in parsed.items() if values}
    request.scope["aito.form"] = fields
    return fields

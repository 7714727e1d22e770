"""A local GitHub: a stateful HTTP server that speaks the REST v3 wire format.

It serves exactly the endpoints :class:`aito.forge.github.GitHubForge` uses, so the
adapter is tested through PyGithub itself (nothing of ours is mocked). Payloads are
small but valid against GitHub's published OpenAPI description (checked by
``test_github_openapi.py``): numeric ids, ``user`` objects, reviews with
``commit_id`` and ``submitted_at``, pulls with ``head``/``base``, pagination with
``Link`` headers (``per_page`` defaults to 30, at most 100), rate-limit headers.

Git objects live in memory and get git's own sha1 ids (``blob <n>\\0…``), so trees,
commits and merges behave like git's. Tokens map to users (``Authorization: token …``
or ``Bearer …``); an unknown token gets 401, an unknown repo or pull request 404.
GitHub Apps (JWTs, installations, installation tokens scoped to their repos and
permissions) are :mod:`support.fake_github_apps`.

Each login may make ``rate_limit`` requests (5000, then 403 with
``x-ratelimit-remaining: 0``). Not modelled: access control past authentication (every
known token may read and write every repo; ``set_permission`` feeds the permission
endpoint and ``author_association``), teams, assignees, milestones.

Issues and pull requests share one number sequence, as on GitHub; a pull request is
also an issue (the ``/issues`` endpoints serve it with a ``pull_request`` key).

A public repository (``create_repo(..., private=False)``) is read without a token, as on
GitHub (GETs only, at the anonymous rate limit of 60); its description and counts
(stars, forks, watchers) are the test's to set on the :class:`Repo`, and its releases
are added with :meth:`FakeGitHub.add_release` (``GET /repos/{o}/{r}/releases``: newest
first, drafts only for those who may push).

Time is the server's: every object gets the server's clock when it is made, except a
commit written through the git data API with its own ``author``/``committer`` dates
(as GitHub keeps them, so a test can back-date one). Issue events record what governance
reads: ``review_dismissed`` (with the actor and the review's earlier state) and
``head_ref_force_pushed`` (a non-fast-forward move of an open pull request's head
branch; ``commit_id`` null, as for events no commit references).

Test hooks: :meth:`FakeGitHub.fail_next` (e.g. two 502s, or a slow answer),
:meth:`FakeGitHub.rate_limit_next` (secondary rate limit with ``retry-after``), ``calls``
(requests per ``METHOD template``, for a benchmark's API calls per operation) and
``responses`` (every JSON body served, for the OpenAPI check). Secondary limits, replies
lost after the write and ``repository_dispatch``: :mod:`support.fake_github_limits`.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from aito.forge import github_pacing
from aito.forge.github import GitHubForge
from aito.org import loading

DOCS = "https://docs.github.com/rest"
MAX_PULL_FILES = 3000  # GitHub lists at most this many files of a pull request
_ROLES = ("read", "triage", "write", "maintain", "admin")
_LEGACY = {
    "read": "read",
    "triage": "read",
    "write": "write",
    "maintain": "write",
    "admin": "admin",
}

Json = Any
Response = tuple[int, Json, dict[str, str]]


class ApiError(Exception):
    """Raised inside a handler: becomes a GitHub error response."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def _not_found() -> ApiError:
    return ApiError(404, "Not Found")


def _invalid(resource: str, field: str, code: str = "invalid", message: str = "") -> ApiError:
    error = {"resource": resource, "field": field, "code": code}
    if message:
        error["message"] = message
    return ApiError(422, "Validation Failed", [error])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _git_sha(kind: str, data: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data, usedforsecurity=False).hexdigest()


def _node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


@dataclasses.dataclass(frozen=True)
class User:
    login: str
    id: int
    type: str = "User"


@dataclasses.dataclass(frozen=True)
class Signature:
    name: str
    email: str
    date: dt.datetime

    def line(self) -> str:
        return f"{self.name} <{self.email}> {int(self.date.timestamp())} +0000"


@dataclasses.dataclass(frozen=True)
class GitCommit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author: Signature
    committer: Signature
    user_id: int | None  # the GitHub account the author email belongs to


@dataclasses.dataclass
class Pull:
    number: int
    id: int
    user: User
    title: str
    body: str | None
    head_ref: str
    head_sha: str
    base_ref: str
    created_at: dt.datetime
    updated_at: dt.datetime
    state: str = "open"
    closed_at: dt.datetime | None = None
    closed_by: User | None = None
    merged_at: dt.datetime | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    base_tip: str | None = None  # the base branch's tip when the pull was closed
    labels: list[str] = dataclasses.field(default_factory=list)
    requested: list[User] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Issue:
    """An issue that is not a pull request (a pull request is a :class:`Pull`)."""

    number: int
    id: int
    user: User
    title: str
    body: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    state: str = "open"
    state_reason: str | None = None
    closed_at: dt.datetime | None = None
    closed_by: User | None = None
    labels: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Review:
    id: int
    number: int
    user: User
    state: str
    body: str
    commit_id: str
    submitted_at: dt.datetime | None


@dataclasses.dataclass
class IssueComment:
    id: int
    number: int
    user: User
    body: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class IssueEvent:
    id: int
    number: int
    event: str
    actor: User
    created_at: dt.datetime
    dismissed_review: dict[str, Json] | None = None


@dataclasses.dataclass(frozen=True)
class Status:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: User
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Release:
    id: int
    tag_name: str
    name: str | None
    body: str | None
    author: User
    target_commitish: str
    created_at: dt.datetime
    published_at: dt.datetime | None  # None: a draft
    prerelease: bool = False


@dataclasses.dataclass
class Repo:
    owner: User
    name: str
    id: int
    default_branch: str
    private: bool
    created_at: dt.datetime
    blobs: dict[str, bytes] = dataclasses.field(default_factory=dict)
    trees: dict[str, list[tuple[str, str, str]]] = dataclasses.field(default_factory=dict)
    commits: dict[str, GitCommit] = dataclasses.field(default_factory=dict)
    refs: dict[str, str] = dataclasses.field(default_factory=dict)  # "heads/main" -> sha
    pulls: dict[int, Pull] = dataclasses.field(default_factory=dict)
    issues: dict[int, Issue] = dataclasses.field(default_factory=dict)  # not pull requests
    reviews: list[Review] = dataclasses.field(default_factory=list)
    comments: dict[int, IssueComment] = dataclasses.field(default_factory=dict)
    statuses: list[Status] = dataclasses.field(default_factory=list)
    events: list[IssueEvent] = dataclasses.field(default_factory=list)
    labels: dict[str, int] = dataclasses.field(default_factory=dict)  # name -> id
    permissions: dict[str, str] = dataclasses.field(default_factory=dict)  # login -> role
    releases: list[Release] = dataclasses.field(default_factory=list)
    description: str | None = None
    stars: int = 0
    forks: int = 0
    watchers: int = 0  # subscribers: who watch it (GitHub's `watchers_count` is its stars)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    # -- git objects ---------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        sha = _git_sha("blob", data)
        self.blobs[sha] = data
        return sha

    def put_tree(self, flat: Mapping[str, tuple[str, str]]) -> str:
        """Write nested trees for ``flat`` (path -> (mode, blob sha)); the root tree's sha."""
        entries: list[tuple[str, str, str]] = []
        children: dict[str, dict[str, tuple[str, str]]] = {}
        for path, (mode, sha) in flat.items():
            head, sep, rest = path.partition("/")
            if sep:
                children.setdefault(head, {})[rest] = (mode, sha)
            else:
                entries.append((mode, head, sha))
        entries += [("40000", name, self.put_tree(sub)) for name, sub in children.items()]
        entries.sort(key=lambda e: e[1] + "/" if e[0] == "40000" else e[1])
        data = b"".join(f"{m} {n}".encode() + b"\0" + bytes.fromhex(s) for m, n, s in entries)
        sha = _git_sha("tree", data)
        self.trees[sha] = entries
        return sha

    def flatten(self, tree: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for mode, name, sha in self.trees[tree]:
            if mode == "40000":
                out.update(self.flatten(sha, f"{prefix}{name}/"))
            else:
                out[prefix + name] = (mode, sha)
        return out

    def put_commit(
        self,
        *,
        tree: str,
        parents: tuple[str, ...],
        message: str,
        user: User | None,
        dated: dt.datetime | None = None,
    ) -> GitCommit:
        """A commit by ``user`` dated now by the server's clock, or ``dated`` (what the
        client wrote as the author and committer date: GitHub keeps it as given)."""
        name, email = ("GitHub", "noreply@github.com") if user is None else _git_identity(user)
        sig = Signature(name, email, dated or _now())
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {sig.line()}\ncommitter {sig.line()}\n\n{message}"
        sha = _git_sha("commit", text.encode())
        commit = GitCommit(sha, tree, parents, message, sig, sig, None if user is None else user.id)
        self.commits[sha] = commit
        return commit

    def resolve(self, ref: str) -> str | None:
        """A commit sha for a branch name, ``heads/…``, ``refs/heads/…`` or a sha."""
        if ref in self.commits:
            return ref
        name = ref.removeprefix("refs/")
        return self.refs.get(name) or self.refs.get(f"heads/{name}")

    def ancestors(self, sha: str) -> list[str]:
        """``sha`` and everything it descends from, oldest first (parents before children)."""
        seen: set[str] = set()
        order: list[str] = []
        stack: list[tuple[str, bool]] = [(sha, False)]
        while stack:
            current, done = stack.pop()
            if done:
                order.append(current)
                continue
            if current in seen:
                continue
            seen.add(current)
            stack.append((current, True))
            stack += [(p, False) for p in reversed(self.commits[current].parents)]
        return order

    def merge_base(self, one: str, other: str) -> str | None:
        reachable = set(self.ancestors(other))
        queue = collections.deque([one])
        seen: set[str] = set()
        while queue:
            current = queue.popleft()
            if current in reachable:
                return current
            if current not in seen:
                seen.add(current)
                queue.extend(self.commits[current].parents)
        return None

    def items(self) -> list[Pull | Issue]:
        """Pull requests and issues: what GitHub's ``/issues`` endpoints list."""
        return [*self.pulls.values(), *self.issues.values()]

    def next_number(self) -> int:
        """The next issue or pull request number (one sequence for both, as on GitHub)."""
        return max((*self.pulls, *self.issues), default=0) + 1

    # -- pulls ---------------------------------------------------------------------
    def sync(self, pull: Pull) -> Pull:
        """An open pull follows its head branch, like GitHub's."""
        if pull.state == "open" and (sha := self.refs.get(f"heads/{pull.head_ref}")):
            pull.head_sha = sha
        return pull

    def pull_range(self, pull: Pull) -> tuple[str | None, list[str]]:
        """(merge base, the pull's commits oldest first)."""
        self.sync(pull)
        base_tip = pull.base_tip or self.refs[f"heads/{pull.base_ref}"]
        excluded = set(self.ancestors(base_tip))
        commits = [c for c in self.ancestors(pull.head_sha) if c not in excluded]
        return self.merge_base(pull.head_sha, base_tip), commits

    def pull_diff(self, pull: Pull) -> list[tuple[str, str, str | None]]:
        """(path, status, blob sha) of every file the pull changes."""
        base, _ = self.pull_range(pull)
        old = self.flatten(self.commits[base].tree) if base else {}
        new = self.flatten(self.commits[pull.head_sha].tree)
        out: list[tuple[str, str, str | None]] = []
        for path in sorted(old.keys() | new.keys()):
            if path not in new:
                out.append((path, "removed", None))
            elif path not in old:
                out.append((path, "added", new[path][1]))
            elif old[path] != new[path]:
                out.append((path, "modified", new[path][1]))
        return out


def _git_identity(user: User) -> tuple[str, str]:
    return user.login, f"{user.id}+{user.login}@users.noreply.github.com"


@dataclasses.dataclass
class Fault:
    status: int | None
    times: int
    message: str
    headers: dict[str, str]
    method: str | None
    path: str | None
    delay: float
    drop: str | None = None  # act, then lose the reply: "reset" (no answer) or "502" (empty)

    def matches(self, method: str, template: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path == template
        )


@dataclasses.dataclass(frozen=True)
class RecordedResponse:
    method: str
    template: str  # the OpenAPI path, e.g. /repos/{owner}/{repo}/pulls/{pull_number}
    status: int
    body: Json


@dataclasses.dataclass
class Context:
    method: str
    template: str
    user: User
    repo: Repo
    params: dict[str, str]
    query: dict[str, str]
    body: Json
    url: str  # the request URL, for Link headers


Handler = Callable[["FakeGitHub", Context], Response]
_ROUTES: list[tuple[str, str, re.Pattern[str], Handler]] = []
WEB_PREFIX = "/login/"
"""Routes under this prefix are github.com's web endpoints (the OAuth device flow), not
the REST API: the API's OpenAPI description does not hold them."""


def api_routes() -> list[tuple[str, str, re.Pattern[str], Handler]]:
    """The fake's REST API routes (its web endpoints left out)."""
    return [r for r in _ROUTES if not r[1].startswith(WEB_PREFIX)]


# Other ways in, registered by the modules imported at the end (GitHub Apps): an
# authenticator maps a bearer token to its caller (None: not its kind; ApiError: refused),
# a guard sees each request's token and context and may refuse it (ApiError).
AUTHENTICATORS: list[Callable[[FakeGitHub, str], User | None]] = []
GUARDS: list[Callable[[FakeGitHub, str, Context], None]] = []
ANONYMOUS: set[str] = set()  # templates GitHub serves without authentication
NOBODY = User("", 0, "User")  # the caller of an anonymous request


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    def pattern(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "ref":
            return r"(?P<ref>.+?)"
        if name.endswith(("_number", "_id")):
            return rf"(?P<{name}>\d+)"
        return rf"(?P<{name}>[^/]+)"

    regex = re.compile(re.sub(r"\{(\w+)\}", pattern, template))

    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, template, regex, handler))
        return handler

    return register


def _payload(template: str, body: bytes | None) -> Json:
    """A request's JSON body; GitHub's OAuth endpoints (``/login/…``) take forms too."""
    if not body:
        return None
    if template.startswith("/login/") and not body.lstrip().startswith(b"{"):
        return dict(urllib.parse.parse_qsl(body.decode()))
    return json.loads(body)


class FakeGitHub:
    """The server's state and test hooks; ``url`` is its API base URL."""

    def __init__(self, users: Mapping[str, tuple[str, int]]) -> None:
        self.users_by_token: dict[str, User] = {}
        self.users: dict[str, User] = {}
        for token, (login, user_id) in users.items():
            self.add_user(token=token, login=login, id=user_id)
        self.repos: dict[str, Repo] = {}
        self.roles: dict[str, str] = {}  # login -> role on every repo
        self.calls: collections.Counter[str] = collections.Counter()
        self.responses: list[RecordedResponse] = []
        self.faults: list[Fault] = []
        self.used: collections.Counter[str] = collections.Counter()  # requests per login
        self.rate_limit = 5000  # per login, as GitHub's for a personal token; then 403
        self.lock = threading.RLock()
        self._ids = itertools.count(1_000_001)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
        self._http.daemon_threads = True
        self._http.fake = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # -- configuration -------------------------------------------------------------
    def add_user(self, *, token: str, login: str, id: int) -> User:
        user = User(login, id, "Bot" if login.endswith("[bot]") else "User")
        self.users_by_token[token] = user
        self.users[login] = user
        return user

    def revoke(self, token: str) -> None:
        """The token's owner revoked it (or it expired): GitHub answers 401 to it."""
        with self.lock:
            del self.users_by_token[token]

    def create_repo(
        self,
        full_name: str,
        *,
        files: Mapping[str, bytes | str] | None = None,
        default_branch: str = "main",
        private: bool = True,
    ) -> Repo:
        owner_login, name = full_name.split("/")
        owner = self.users.get(owner_login) or User(owner_login, self.next_id(), "Organization")
        repo = Repo(owner, name, self.next_id(), default_branch, private, _now())
        flat = {
            path: ("100644", repo.put_blob(data.encode() if isinstance(data, str) else data))
            for path, data in (files or {"README.md": f"# {name}\n"}).items()
        }
        root = repo.put_commit(
            tree=repo.put_tree(flat), parents=(), message="Initial commit", user=None
        )
        repo.refs[f"heads/{default_branch}"] = root.sha
        with self.lock:
            self.repos[full_name] = repo
        return repo

    def add_release(
        self,
        full_name: str,
        tag: str,
        *,
        name: str | None = None,
        body: str | None = None,
        author: str | None = None,
        draft: bool = False,
        prerelease: bool = False,
        published_at: dt.datetime | None = None,
    ) -> Release:
        """A release of ``full_name`` at its default branch, by ``author`` (a login; the
        owner by default), published now (or at ``published_at``) unless a ``draft``."""
        repo = self.repos[full_name]
        user = self.users[author] if author else repo.owner
        now = _now()
        release = Release(
            self.next_id(),
            tag,
            name,
            body,
            user,
            repo.default_branch,
            published_at or now,
            None if draft else (published_at or now),
            prerelease,
        )
        with self.lock:
            repo.releases.append(release)
        return release

    def set_permission(self, login: str, role: str, *, repo: str | None = None) -> None:
        """Give ``login`` a role (read, triage, write, maintain, admin or none) on ``repo``,
        or on every repo, also those created later (a repo's own setting wins)."""
        if role not in (*_ROLES, "none"):
            raise ValueError(f"unknown role {role!r}")
        with self.lock:
            if repo is None:
                self.roles[login] = role
            else:
                self.repos[repo].permissions[login] = role

    def role(self, repo: Repo, login: str) -> str:
        if login == repo.owner.login:
            return "admin"
        return repo.permissions.get(login) or self.roles.get(login) or "none"

    def fail_next(
        self,
        *,
        status: int | None = 502,
        times: int = 1,
        message: str = "Server Error",
        headers: Mapping[str, str] | None = None,
        method: str | None = None,
        path: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (None: normally,
        after ``delay`` seconds); ``path`` is an OpenAPI template (``/repos/{owner}/{repo}``)."""
        fault = Fault(status, times, message, dict(headers or {}), method, path, delay)
        with self.lock:
            self.faults.append(fault)

    def rate_limit_next(
        self, *, retry_after: int = 60, times: int = 1, secondary: bool = True, **match: str
    ) -> None:
        """A secondary rate limit (403 + ``retry-after``) or a spent primary one."""
        if secondary:
            message = (
                "You have exceeded a secondary rate limit. "
                "Please wait a few minutes before you try again."
            )
            headers = {"retry-after": str(retry_after)}
        else:
            message = "API rate limit exceeded for user."
            reset = int(time.time()) + retry_after
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
        self.fail_next(status=403, times=times, message=message, headers=headers, **match)

    def reset_counts(self) -> None:
        with self.lock:
            self.calls.clear()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def next_id(self) -> int:
        return next(self._ids)

    # -- dispatch ------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, auth: str | None, body: bytes
    ) -> tuple[int, Json, dict[str, str], float]:
        parsed = urllib.parse.urlsplit(raw_path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        found = next(
            (
                (template, match, handler)
                for verb, template, regex, handler in _ROUTES
                if verb == method and (match := regex.fullmatch(parsed.path))
            ),
            None,
        )
        template = found[0] if found else "<unknown>"
        with self.lock:
            self.calls[f"{method} {template}"] += 1
            fault = next((f for f in self.faults if f.matches(method, template)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        try:
            user = self._authenticate(auth)
        except ApiError as refused:
            user, refusal = None, refused
        else:
            refusal = None
        headers = self._rate_headers(user)
        delay = fault.delay if fault else 0.0
        try:
            if fault is not None and fault.status is not None and fault.drop is None:
                headers.update(fault.headers)
                raise ApiError(fault.status, fault.message)
            if refusal is not None:
                raise refusal
            if user is None and (auth or not self._anonymous(method, template, found)):
                raise ApiError(401, "Requires authentication" if not auth else "Bad credentials")
            if user is not None and self.used[user.login] > self.rate_limit:
                raise ApiError(403, f"API rate limit exceeded for user ID {user.id}.")
            if found is None:
                raise _not_found()
            _, match, handler = found
            params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            with self.lock:
                repo = self.repos.get(f"{params.get('owner')}/{params.get('repo')}")
                if repo is None and "{repo}" in template:
                    raise _not_found()
                payload = _payload(template, body)
                context = Context(
                    method,
                    template,
                    user or NOBODY,
                    repo,
                    params,
                    query,
                    payload,
                    self.url + raw_path,
                )  # repo is None only for routes outside a repository (/app, /users/…)
                for guard in GUARDS:
                    guard(self, (auth or "").partition(" ")[2].strip(), context)
                status, data, extra = handler(self, context)
            headers.update(extra)
        except ApiError as exc:
            status = exc.status
            data = {"message": exc.message, "documentation_url": DOCS, "status": str(status)}
            if exc.errors is not None:
                data["errors"] = exc.errors
        except json.JSONDecodeError:
            status, data = 400, {"message": "Problems parsing JSON", "documentation_url": DOCS}
        with self.lock:
            self.responses.append(RecordedResponse(method, template, status, data))
        if fault is not None and fault.drop is not None:  # support/fake_github_limits.py
            return (0 if fault.drop == "reset" else 502), None, {}, delay
        return status, data, headers, delay

    def _anonymous(
        self, method: str, template: str, found: tuple[str, re.Match[str], Handler] | None
    ) -> bool:
        """Whether GitHub serves this request without a token: an anonymous endpoint, or
        a read of a public repository."""
        if template in ANONYMOUS:
            return True
        if method != "GET" or found is None or "{repo}" not in template:
            return False
        params = found[1].groupdict()
        with self.lock:
            repo = self.repos.get(f"{params.get('owner')}/{params.get('repo')}")
        return repo is not None and not repo.private

    def _authenticate(self, auth: str | None) -> User | None:
        scheme, _, token = (auth or "").partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        known = self.users_by_token.get(token.strip())
        for authenticate in AUTHENTICATORS:
            known = known or authenticate(self, token.strip())
        return known

    def _rate_headers(self, user: User | None) -> dict[str, str]:
        with self.lock:
            key = user.login if user else "-"
            self.used[key] += 1
            used = self.used[key]
        limit = self.rate_limit if user else 60
        reset = (int(time.time()) // 3600 + 1) * 3600
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(limit - used, 0)),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-used": str(used),
            "x-ratelimit-resource": "core",
        }

    # -- payloads ------------------------------------------------------------------
    def user_json(self, user: User) -> Json:
        api = f"{self.url}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": _node_id(user.type, user.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.url}/{user.login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": user.type,
            "site_admin": False,
        }

    def repo_json(self, repo: Repo) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"
        templated = {
            "archive": "/{archive_format}{/ref}",
            "assignees": "/assignees{/user}",
            "blobs": "/git/blobs{/sha}",
            "branches": "/branches{/branch}",
            "collaborators": "/collaborators{/collaborator}",
            "comments": "/comments{/number}",
            "commits": "/commits{/sha}",
            "compare": "/compare/{base}...{head}",
            "contents": "/contents/{+path}",
            "contributors": "/contributors",
            "deployments": "/deployments",
            "downloads": "/downloads",
            "events": "/events",
            "forks": "/forks",
            "git_commits": "/git/commits{/sha}",
            "git_refs": "/git/refs{/sha}",
            "git_tags": "/git/tags{/sha}",
            "hooks": "/hooks",
            "issue_comment": "/issues/comments{/number}",
            "issue_events": "/issues/events{/number}",
            "issues": "/issues{/number}",
            "keys": "/keys{/key_id}",
            "labels": "/labels{/name}",
            "languages": "/languages",
            "merges": "/merges",
            "milestones": "/milestones{/number}",
            "notifications": "/notifications{?since,all,participating}",
            "pulls": "/pulls{/number}",
            "releases": "/releases{/id}",
            "stargazers": "/stargazers",
            "statuses": "/statuses/{sha}",
            "subscribers": "/subscribers",
            "subscription": "/subscription",
            "tags": "/tags",
            "teams": "/teams",
            "trees": "/git/trees{/sha}",
        }
        html = f"{self.url}/{repo.full_name}"
        open_pulls = sum(1 for item in repo.items() if item.state == "open")
        created = _iso(repo.created_at)
        return {
            "id": repo.id,
            "node_id": _node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.user_json(repo.owner),
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "html_url": html,
            "description": repo.description,
            "fork": False,
            "url": api,
            **{f"{key}_url": api + suffix for key, suffix in templated.items()},
            "git_url": f"git://127.0.0.1/{repo.full_name}.git",
            "ssh_url": f"git@127.0.0.1:{repo.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "license": None,
            "size": sum(len(b) for b in repo.blobs.values()) // 1024,
            "default_branch": repo.default_branch,
            "forks": repo.forks,
            "forks_count": repo.forks,
            "network_count": 0,
            "open_issues": open_pulls,  # GitHub counts pull requests among issues
            "open_issues_count": open_pulls,
            "stargazers_count": repo.stars,
            "subscribers_count": repo.watchers,
            "watchers": repo.stars,  # GitHub's legacy name for its stars
            "watchers_count": repo.stars,
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "created_at": created,
            "updated_at": created,
            "pushed_at": created,
        }

    def association(self, repo: Repo, user: User) -> str:
        if user.login == repo.owner.login:
            return "OWNER"
        if self.role(repo, user.login) != "none":
            return "COLLABORATOR"
        return "NONE"

    def label_json(self, repo: Repo, name: str) -> Json:
        label_id = repo.labels.setdefault(name, self.next_id())
        return {
            "id": label_id,
            "node_id": _node_id("Label", label_id),
            "url": f"{self.url}/repos/{repo.full_name}/labels/{urllib.parse.quote(name)}",
            "name": name,
            "description": "",  # pull-request-simple has it non-nullable
            "color": "ededed",
            "default": False,
        }

    def pull_json(self, repo: Repo, pull: Pull, *, full: bool = True) -> Json:
        repo.sync(pull)
        api = f"{self.url}/repos/{repo.full_name}"
        html = f"{self.url}/{repo.full_name}/pull/{pull.number}"
        links = {
            "self": f"{api}/pulls/{pull.number}",
            "html": html,
            "issue": f"{api}/issues/{pull.number}",
            "comments": f"{api}/issues/{pull.number}/comments",
            "review_comments": f"{api}/pulls/{pull.number}/comments",
            "review_comment": f"{api}/pulls/comments{{/number}}",
            "commits": f"{api}/pulls/{pull.number}/commits",
            "statuses": f"{api}/statuses/{pull.head_sha}",
        }
        repo_json = self.repo_json(repo)

        def side(ref: str, sha: str) -> Json:
            return {
                "label": f"{repo.owner.login}:{ref}",
                "ref": ref,
                "sha": sha,
                "user": repo_json["owner"],
                "repo": repo_json,
            }

        base_sha = pull.base_tip or repo.refs[f"heads/{pull.base_ref}"]
        data: dict[str, Json] = {
            "url": links["self"],
            "id": pull.id,
            "node_id": _node_id("PullRequest", pull.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": links["issue"],
            "commits_url": links["commits"],
            "review_comments_url": links["review_comments"],
            "review_comment_url": links["review_comment"],
            "comments_url": links["comments"],
            "statuses_url": links["statuses"],
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user_json(pull.user),
            "body": pull.body,
            "labels": [self.label_json(repo, name) for name in pull.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": _iso(pull.created_at),
            "updated_at": _iso(pull.updated_at),
            "closed_at": _iso(pull.closed_at),
            "merged_at": _iso(pull.merged_at),
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self.user_json(u) for u in pull.requested],
            "requested_teams": [],
            "head": side(pull.head_ref, pull.head_sha),
            "base": side(pull.base_ref, base_sha),
            "_links": {key: {"href": href} for key, href in links.items()},
            "author_association": self.association(repo, pull.user),
            "auto_merge": None,
            "draft": False,
        }
        if full:
            _, commits = repo.pull_range(pull)
            diff = repo.pull_diff(pull)
            data |= {
                "merged": pull.merged_at is not None,
                "mergeable": True if pull.state == "open" else None,
                "rebaseable": True if pull.state == "open" else None,
                "mergeable_state": "clean" if pull.state == "open" else "unknown",
                "merged_by": self.user_json(pull.merged_by) if pull.merged_by else None,
                "comments": sum(1 for c in repo.comments.values() if c.number == pull.number),
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": len(commits),
                "additions": sum(_lines(repo, sha) for _, _, sha in diff),
                "deletions": 0,
                "changed_files": len(diff),
            }
        return data

    def review_json(self, repo: Repo, review: Review) -> Json:
        html = f"{self.url}/{repo.full_name}/pull/{review.number}"
        api = f"{self.url}/repos/{repo.full_name}/pulls/{review.number}"
        data = {
            "id": review.id,
            "node_id": _node_id("PullRequestReview", review.id),
            "user": self.user_json(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": f"{html}#pullrequestreview-{review.id}",
            "pull_request_url": api,
            "author_association": self.association(repo, review.user),
            "_links": {
                "html": {"href": f"{html}#pullrequestreview-{review.id}"},
                "pull_request": {"href": api},
            },
            "commit_id": review.commit_id,
        }
        if review.submitted_at is not None:
            data["submitted_at"] = _iso(review.submitted_at)
        return data

    def issue_json(self, repo: Repo, item: Pull | Issue, *, full: bool = True) -> Json:
        """An issue, or a pull request as the ``/issues`` endpoints show it (with a
        ``pull_request`` key); ``closed_by`` only when ``full`` (a single issue's read)."""
        api = f"{self.url}/repos/{repo.full_name}"
        url = f"{api}/issues/{item.number}"
        data: dict[str, Json] = {
            "id": item.id,
            "node_id": _node_id("Issue", item.id),
            "url": url,
            "repository_url": api,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.url}/{repo.full_name}/issues/{item.number}",
            "number": item.number,
            "state": item.state,
            "title": item.title,
            "body": item.body,
            "user": self.user_json(item.user),
            "labels": [self.label_json(repo, name) for name in item.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": sum(1 for m in repo.comments.values() if m.number == item.number),
            "created_at": _iso(item.created_at),
            "updated_at": _iso(item.updated_at),
            "closed_at": _iso(item.closed_at),
            "author_association": self.association(repo, item.user),
        }
        if isinstance(item, Issue):
            data["state_reason"] = item.state_reason
        else:
            pull = self.pull_json(repo, item, full=False)
            data |= {
                "node_id": pull["node_id"],
                "html_url": pull["html_url"],
                "state_reason": None
                if item.state == "open"
                else ("completed" if item.merged_at else "not_planned"),
                "pull_request": {
                    "url": pull["url"],
                    "html_url": pull["html_url"],
                    "diff_url": pull["diff_url"],
                    "patch_url": pull["patch_url"],
                    "merged_at": pull["merged_at"],
                },
            }
        if full:
            data["closed_by"] = self.user_json(item.closed_by) if item.closed_by else None
        return data

    def comment_json(self, repo: Repo, comment: IssueComment) -> Json:
        api = f"{self.url}/repos/{repo.full_name}/issues"
        kind = "pull" if comment.number in repo.pulls else "issues"
        return {
            "id": comment.id,
            "node_id": _node_id("IssueComment", comment.id),
            "url": f"{api}/comments/{comment.id}",
            "html_url": f"{self.url}/{repo.full_name}/{kind}/{comment.number}"
            f"#issuecomment-{comment.id}",
            "issue_url": f"{api}/{comment.number}",
            "body": comment.body,
            "user": self.user_json(comment.user),
            "created_at": _iso(comment.created_at),
            "updated_at": _iso(comment.updated_at),
            "author_association": self.association(repo, comment.user),
        }

    def issue_event_json(self, repo: Repo, event: IssueEvent) -> Json:
        data: dict[str, Json] = {
            "id": event.id,
            "node_id": _node_id("IssueEvent", event.id),
            "url": f"{self.url}/repos/{repo.full_name}/issues/events/{event.id}",
            "actor": self.user_json(event.actor),
            "event": event.event,
            "commit_id": None,
            "commit_url": None,
            "created_at": _iso(event.created_at),
            "performed_via_github_app": None,
        }
        if event.dismissed_review is not None:
            data["dismissed_review"] = event.dismissed_review
        return data

    def git_commit_json(self, repo: Repo, commit: GitCommit) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"

        def sig(s: Signature) -> Json:
            return {"name": s.name, "email": s.email, "date": _iso(s.date)}

        return {
            "sha": commit.sha,
            "node_id": _node_id("Commit", int(commit.sha[:7], 16)),
            "url": f"{api}/git/commits/{commit.sha}",
            "html_url": f"{self.url}/{repo.full_name}/commit/{commit.sha}",
            "author": sig(commit.author),
            "committer": sig(commit.committer),
            "message": commit.message,
            "tree": {"sha": commit.tree, "url": f"{api}/git/trees/{commit.tree}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{api}/git/commits/{p}",
                    "html_url": f"{self.url}/{repo.full_name}/commit/{p}",
                }
                for p in commit.parents
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def commit_json(self, repo: Repo, commit: GitCommit) -> Json:
        """A commit as the REST "commits" endpoints show it (with GitHub accounts)."""
        api = f"{self.url}/repos/{repo.full_name}"
        git = self.git_commit_json(repo, commit)
        account = next((u for u in self.users.values() if u.id == commit.user_id), None)
        user = self.user_json(account) if account else None
        return {
            "sha": commit.sha,
            "node_id": git["node_id"],
            "url": f"{api}/commits/{commit.sha}",
            "html_url": git["html_url"],
            "comments_url": f"{api}/commits/{commit.sha}/comments",
            "commit": {
                "url": git["url"],
                "author": git["author"],
                "committer": git["committer"],
                "message": commit.message,
                "tree": git["tree"],
                "comment_count": 0,
                "verification": git["verification"],
            },
            "author": user,
            "committer": user,
            "parents": [
                {"sha": p["sha"], "url": f"{api}/commits/{p['sha']}", "html_url": p["html_url"]}
                for p in git["parents"]
            ],
        }

    def ref_json(self, repo: Repo, name: str) -> Json:
        api = f"{self.url}/repos/{repo.full_name}/git"
        sha = repo.refs[name]
        return {
            "ref": f"refs/{name}",
            "node_id": _node_id("Ref", repo.id),
            "url": f"{api}/refs/{name}",
            "object": {"type": "commit", "sha": sha, "url": f"{api}/commits/{sha}"},
        }

    def tree_json(self, repo: Repo, tree: str, *, recursive: bool) -> Json:
        api = f"{self.url}/repos/{repo.full_name}/git"

        def walk(sha: str, prefix: str) -> Iterator[Json]:
            for mode, name, child in repo.trees[sha]:
                if mode == "40000":
                    yield {
                        "path": prefix + name,
                        "mode": "040000",
                        "type": "tree",
                        "sha": child,
                        "url": f"{api}/trees/{child}",
                    }
                    if recursive:
                        yield from walk(child, f"{prefix}{name}/")
                else:
                    yield {
                        "path": prefix + name,
                        "mode": mode,
                        "type": "blob",
                        "sha": child,
                        "size": len(repo.blobs[child]),
                        "url": f"{api}/blobs/{child}",
                    }

        return {
            "sha": tree,
            "url": f"{api}/trees/{tree}",
            "tree": list(walk(tree, "")),
            "truncated": False,
        }

    def release_json(self, repo: Repo, release: Release) -> Json:
        api = f"{self.url}/repos/{repo.full_name}/releases/{release.id}"
        html = f"{self.url}/{repo.full_name}/releases/tag/{urllib.parse.quote(release.tag_name)}"
        draft = release.published_at is None
        archive = f"{self.url}/repos/{repo.full_name}"
        return {
            "url": api,
            "html_url": html,
            "assets_url": f"{api}/assets",
            "upload_url": f"{self.url}/repos/{repo.full_name}/releases/{release.id}"
            "/assets{?name,label}",
            "tarball_url": None if draft else f"{archive}/tarball/{release.tag_name}",
            "zipball_url": None if draft else f"{archive}/zipball/{release.tag_name}",
            "id": release.id,
            "node_id": _node_id("Release", release.id),
            "tag_name": release.tag_name,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "body": release.body,
            "draft": draft,
            "prerelease": release.prerelease,
            "immutable": False,
            "created_at": _iso(release.created_at),
            "published_at": _iso(release.published_at),
            "updated_at": _iso(release.published_at or release.created_at),
            "author": self.user_json(release.author),
            "assets": [],
        }

    def status_json(self, repo: Repo, status: Status) -> Json:
        return {
            "url": f"{self.url}/repos/{repo.full_name}/statuses/{status.sha}",
            "avatar_url": None,
            "id": status.id,
            "node_id": _node_id("StatusContext", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": _iso(status.created_at),
            "updated_at": _iso(status.created_at),
            "creator": self.user_json(status.creator),
        }

    def page(self, c: Context, items: list[Json]) -> Response:
        """One page of ``items`` with GitHub's ``Link`` header (rel next/last/prev/first)."""
        try:
            per_page = min(max(int(c.query.get("per_page", 30)), 1), 100)
            number = max(int(c.query.get("page", 1)), 1)
        except ValueError as exc:
            raise ApiError(422, "Invalid pagination parameter") from exc
        last = max((len(items) + per_page - 1) // per_page, 1)
        split = urllib.parse.urlsplit(c.url)

        def link(page: int, rel: str) -> str:
            query = dict(c.query, per_page=str(per_page), page=str(page))
            target = split._replace(query=urllib.parse.urlencode(query)).geturl()
            return f'<{target}>; rel="{rel}"'

        links = []
        if number > 1:
            links += [link(number - 1, "prev"), link(1, "first")]
        if number < last:
            links += [link(number + 1, "next"), link(last, "last")]
        headers = {"link": ", ".join(links)} if links else {}
        return 200, items[(number - 1) * per_page : number * per_page], headers


def _lines(repo: Repo, sha: str | None) -> int:
    return 0 if sha is None else repo.blobs[sha].count(b"\n")


def _pull(c: Context, key: str = "pull_number") -> Pull:
    pull = c.repo.pulls.get(int(c.params[key]))
    if pull is None:
        raise _not_found()
    return pull


def _item(c: Context) -> Pull | Issue:
    """The issue or pull request ``{issue_number}`` names (they share numbers)."""
    number = int(c.params["issue_number"])
    item = c.repo.pulls.get(number) or c.repo.issues.get(number)
    if item is None:
        raise _not_found()
    return item


def _label_names(value: Json) -> list[str]:
    """Label names from a request's ``labels`` (names or ``{"name": …}`` objects)."""
    if not isinstance(value, list | None):
        raise _invalid("Label", "labels")
    names = [v.get("name") if isinstance(v, dict) else v for v in value or []]
    if not all(isinstance(n, str) and n for n in names):
        raise _invalid("Label", "labels")
    return list(dict.fromkeys(str(n) for n in names))


def _commit_for(c: Context, ref: str) -> GitCommit:
    sha = c.repo.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return c.repo.commits[sha]


# -- repository ------------------------------------------------------------------------
@route("GET", "/repos/{owner}/{repo}")
def _get_repo(gh: FakeGitHub, c: Context) -> Response:
    return 200, gh.repo_json(c.repo), {}


@route("GET", "/repos/{owner}/{repo}/releases")
def _list_releases(gh: FakeGitHub, c: Context) -> Response:
    """Newest first; drafts only for those who may push, as on GitHub."""
    pushes = gh.role(c.repo, c.user.login) in ("write", "maintain", "admin")
    shown = [r for r in c.repo.releases if r.published_at is not None or pushes]
    shown.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return gh.page(c, [gh.release_json(c.repo, r) for r in shown])


@route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")
def _get_permission(gh: FakeGitHub, c: Context) -> Response:
    user = gh.users.get(c.params["username"])
    if user is None:
        raise _not_found()
    role = gh.role(c.repo, user.login)
    collaborator = gh.user_json(user) | {"role_name": role}
    return (
        200,
        {"permission": _LEGACY.get(role, "none"), "role_name": role, "user": collaborator},
        {},
    )


# -- git data --------------------------------------------------------------------------
@route("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}")
def _get_tree(gh: FakeGitHub, c: Context) -> Response:
    ref = c.params["tree_sha"]
    tree = ref if ref in c.repo.trees else None
    if tree is None and (sha := c.repo.resolve(ref)):
        tree = c.repo.commits[sha].tree
    if tree is None:
        raise _not_found()
    recursive = c.query.get("recursive", "") not in ("", "0", "false")
    return 200, gh.tree_json(c.repo, tree, recursive=recursive), {}


@route("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}")
def _get_blob(gh: FakeGitHub, c: Context) -> Response:
    sha = c.params["file_sha"]
    data = c.repo.blobs.get(sha)
    if data is None:
        raise _not_found()
    encoded = base64.encodebytes(data).decode()  # GitHub wraps base64 lines, like this
    return (
        200,
        {
            "sha": sha,
            "node_id": _node_id("Blob", int(sha[:7], 16)),
            "url": f"{gh.url}/repos/{c.repo.full_name}/git/blobs/{sha}",
            "size": len(data),
            "content": encoded,
            "encoding": "base64",
        },
        {},
    )


@route("POST", "/repos/{owner}/{repo}/git/blobs")
def _create_blob(gh: FakeGitHub, c: Context) -> Response:
    body = c.body or {}
    content = body.get("content")
    if not isinstance(content, str):
        raise _invalid("Blob", "content", "missing_field")
    data = base64.b64decode(content) if body.get("encoding") == "base64" else content.encode()
    sha = c.repo.put_blob(data)
    return 201, {"sha": sha, "url": f"{gh.url}/repos/{c.repo.full_name}/git/blobs/{sha}"}, {}


@route("POST", "/repos/{owner}/{repo}/git/trees")
def _create_tree(gh: FakeGitHub, c: Context) -> Response:
    body = c.body or {}
    base = body.get("base_tree")
    if base is not None and base not in c.repo.trees:
        raise ApiError(422, "base_tree is not a valid tree oid")
    flat = c.repo.flatten(base) if base else {}
    for entry in body.get("tree") or []:
        path, mode = entry.get("path"), entry.get("mode", "100644")
        if not path or entry.get("type", "blob") != "blob" or mode not in ("100644", "100755"):
            raise ApiError(422, "tree.path, tree.mode and tree.type must be a blob entry")
        if "content" in entry:
            flat[path] = (mode, c.repo.put_blob(str(entry["content"]).encode()))
        elif entry.get("sha") is None:
            flat.pop(path, None)
        elif entry["sha"] in c.repo.blobs:
            flat[path] = (mode, entry["sha"])
        else:
            raise ApiError(422, f"tree.sha {entry['sha']} is not a valid blob")
    return 201, gh.tree_json(c.repo, c.repo.put_tree(flat), recursive=False), {}


@route("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}")
def _get_git_commit(gh: FakeGitHub, c: Context) -> Response:
    commit = c.repo.commits.get(c.params["commit_sha"])
    if commit is None:
        raise _not_found()
    return 200, gh.git_commit_json(c.repo, commit), {}


@route("POST", "/repos/{owner}/{repo}/git/commits")
def _create_git_commit(gh: FakeGitHub, c: Context) -> Response:
    body = c.body or {}
    tree, parents = body.get("tree"), tuple(body.get("parents") or ())
    if tree not in c.repo.trees:
        raise ApiError(422, "Tree SHA does not exist")
    if any(p not in c.repo.commits for p in parents):
        raise ApiError(422, "Parent SHA does not exist or is not a commit object")
    dated = None
    for role in ("committer", "author"):
        given = body.get(role)
        if isinstance(given, dict) and given.get("date"):
            dated = dt.datetime.fromisoformat(str(given["date"]).replace("Z", "+00:00"))
    commit = c.repo.put_commit(
        tree=tree, parents=parents, message=str(body.get("message", "")), user=c.user, dated=dated
    )
    return 201, gh.git_commit_json(c.repo, commit), {}


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref}")
def _get_ref(gh: FakeGitHub, c: Context) -> Response:
    name = c.params["ref"]
    if name not in c.repo.refs:
        raise _not_found()
    return 200, gh.ref_json(c.repo, name), {}


@route("POST", "/repos/{owner}/{repo}/git/refs")
def _create_ref(gh: FakeGitHub, c: Context) -> Response:
    body = c.body or {}
    ref, sha = str(body.get("ref", "")), body.get("sha")
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have two slashes")
    if sha not in c.repo.commits:
        raise ApiError(422, "Object does not exist")
    name = ref.removeprefix("refs/")
    if name in c.repo.refs:
        raise ApiError(422, "Reference already exists")
    c.repo.refs[name] = sha
    return 201, gh.ref_json(c.repo, name), {}


@route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}")
def _update_ref(gh: FakeGitHub, c: Context) -> Response:
    name, body = c.params["ref"], c.body or {}
    sha = body.get("sha")
    if name not in c.repo.refs:
        raise ApiError(422, "Reference does not exist")
    if sha not in c.repo.commits:
        raise ApiError(422, "Object does not exist")
    forced = c.repo.refs[name] not in c.repo.ancestors(sha)
    if not body.get("force") and forced:
        raise ApiError(422, "Update is not a fast forward")
    c.repo.refs[name] = sha
    if forced:
        for pull in c.repo.pulls.values():
            if pull.state == "open" and f"heads/{pull.head_ref}" == name:
                event = IssueEvent(
                    gh.next_id(), pull.number, "head_ref_force_pushed", c.user, _now()
                )
                c.repo.events.append(event)
    return 200, gh.ref_json(c.repo, name), {}


# -- pull requests -----------------------------------------------------------------------
@route("GET", "/repos/{owner}/{repo}/pulls")
def _list_pulls(gh: FakeGitHub, c: Context) -> Response:
    state = c.query.get("state", "open")
    pulls = [gh_pull for gh_pull in c.repo.pulls.values() if state in ("all", gh_pull.state)]
    if head := c.query.get("head"):
        owner, _, branch = head.rpartition(":")
        pulls = [p for p in pulls if p.head_ref == branch and owner in ("", c.repo.owner.login)]
    if base := c.query.get("base"):
        pulls = [p for p in pulls if p.base_ref == base]
    key = "updated_at" if c.query.get("sort") == "updated" else "created_at"
    pulls.sort(key=lambda p: (getattr(p, key), p.number), reverse=c.query.get("direction") != "asc")
    return gh.page(c, [gh.pull_json(c.repo, p, full=False) for p in pulls])


@route("POST", "/repos/{owner}/{repo}/pulls")
def _create_pull(gh: FakeGitHub, c: Context) -> Response:
    body = c.body or {}
    title = body.get("title")
    head = str(body.get("head", "")).rpartition(":")[2]
    base = str(body.get("base", ""))
    if not title:
        raise _invalid("PullRequest", "title", "missing_field")
    if f"heads/{base}" not in c.repo.refs:
        raise _invalid("PullRequest", "base")
    if f"heads/{head}" not in c.repo.refs:
        raise _invalid("PullRequest", "head")
    for pull in c.repo.pulls.values():
        if pull.state == "open" and pull.head_ref == head and pull.base_ref == base:
            message = f"A pull request already exists for {c.repo.owner.login}:{head}."
            raise _invalid("PullRequest", "head", "custom", message)
    head_sha = c.repo.refs[f"heads/{head}"]
    if head_sha in c.repo.ancestors(c.repo.refs[f"heads/{base}"]):
        raise _invalid("PullRequest", "head", "custom", f"No commits between {base} and {head}")
    now = _now()
    number = c.repo.next_number()
    pull = Pull(
        number, gh.next_id(), c.user, str(title), body.get("body"), head, head_sha, base, now, now
    )
    c.repo.pulls[number] = pull
    return 201, gh.pull_json(c.repo, pull), {}


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")
def _get_pull(gh: FakeGitHub, c: Context) -> Response:
    return 200, gh.pull_json(c.repo, _pull(c)), {}


@route("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}")
def _update_pull(gh: FakeGitHub, c: Context) -> Response:
    pull, body = c.repo.sync(_pull(c)), c.body or {}
    pull.title = body.get("title", pull.title)
    pull.body = body.get("body", pull.body)
    _set_pull_state(c, pull, body.get("state"))
    pull.updated_at = _now()
    return 200, gh.pull_json(c.repo, pull), {}


def _set_pull_state(c: Context, pull: Pull, state: Json) -> None:
    if state == "closed" and pull.state == "open":
        pull.state, pull.closed_at, pull.closed_by = "closed", _now(), c.user
        pull.base_tip = c.repo.refs[f"heads/{pull.base_ref}"]
    elif state == "open" and pull.state == "closed":
        if pull.merged_at is not None:
            raise ApiError(422, "Cannot reopen a merged pull request")
        pull.state, pull.closed_at, pull.closed_by, pull.base_tip = "open", None, None, None
    elif state not in (None, "open", "closed"):
        raise _invalid("PullRequest", "state")


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/commits")
def _pull_commits(gh: FakeGitHub, c: Context) -> Response:
    _, commits = c.repo.pull_range(_pull(c))
    return gh.page(c, [gh.commit_json(c.repo, c.repo.commits[sha]) for sha in commits])


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files")
def _pull_files(gh: FakeGitHub, c: Context) -> Response:
    api = f"{gh.url}/repos/{c.repo.full_name}"
    html = f"{gh.url}/{c.repo.full_name}"
    pull = _pull(c)
    files = []
    for path, status, sha in c.repo.pull_diff(pull)[:MAX_PULL_FILES]:
        added = _lines(c.repo, sha)
        quoted = urllib.parse.quote(path)
        files.append(
            {
                "sha": sha,
                "filename": path,
                "status": status,
                "additions": added,
                "deletions": 0,
                "changes": added,
                "blob_url": f"{html}/blob/{pull.head_sha}/{quoted}",
                "raw_url": f"{html}/raw/{pull.head_sha}/{quoted}",
                "contents_url": f"{api}/contents/{quoted}?ref={pull.head_sha}",
            }
        )
    return gh.page(c, files)


@route("GET", "/repos/{owner}/{repo}/compare/{basehead}")
def _compare(gh: FakeGitHub, c: Context) -> Response:
    """``base...head``: the commits and files from their merge base to ``head``."""
    base_ref, sep, head_ref = c.params["basehead"].partition("...")
    base, head = c.repo.resolve(base_ref), c.repo.resolve(head_ref)
    if not sep or base is None or head is None:
        raise _not_found()
    merge_base = c.repo.merge_base(head, base) or base
    old = c.repo.flatten(c.repo.commits[merge_base].tree)
    new = c.repo.flatten(c.repo.commits[head].tree)
    files = []
    for path in sorted(old.keys() | new.keys()):
        status = (
            "removed" if path not in new else "added" if path not in old
            else "modified" if old[path] != new[path] else None
        )  # fmt: skip
        if status is None:
            continue
        sha = new[path][1] if path in new else old[path][1]
        added = _lines(c.repo, sha) if path in new else 0
        quoted = urllib.parse.quote(path)
        html = f"{gh.url}/{c.repo.full_name}"
        files.append(
            {
                "sha": sha,
                "filename": path,
                "status": status,
                "additions": added,
                "deletions": 0,
                "changes": added,
                "blob_url": f"{html}/blob/{head}/{quoted}",
                "raw_url": f"{html}/raw/{head}/{quoted}",
                "contents_url": f"{gh.url}/repos/{c.repo.full_name}/contents/{quoted}?ref={head}",
            }
        )
    reached = set(c.repo.ancestors(base))
    ahead = [s for s in c.repo.ancestors(head) if s not in reached]
    behind = [s for s in c.repo.ancestors(base) if s not in set(c.repo.ancestors(head))]
    status = (
        "identical" if not ahead and not behind else "ahead" if not behind
        else "behind" if not ahead else "diverged"
    )  # fmt: skip
    link = f"{gh.url}/{c.repo.full_name}/compare/{c.params['basehead']}"
    return (
        200,
        {
            "url": f"{gh.url}/repos/{c.repo.full_name}/compare/{c.params['basehead']}",
            "html_url": link,
            "permalink_url": link,
            "diff_url": f"{link}.diff",
            "patch_url": f"{link}.patch",
            "base_commit": gh.commit_json(c.repo, c.repo.commits[base]),
            "merge_base_commit": gh.commit_json(c.repo, c.repo.commits[merge_base]),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": [gh.commit_json(c.repo, c.repo.commits[s]) for s in ahead],
            "files": files[:MAX_COMPARE_FILES],
        },
        {},
    )


MAX_COMPARE_FILES = 300
"""GitHub's compare lists at most 300 files."""


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
def _list_reviews(gh: FakeGitHub, c: Context) -> Response:
    number = _pull(c).number
    reviews = [r for r in c.repo.reviews if r.number == number]
    return gh.page(c, [gh.review_json(c.repo, r) for r in reviews])


_EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


@route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
def _create_review(gh: FakeGitHub, c: Context) -> Response:
    pull, body = c.repo.sync(_pull(c)), c.body or {}
    event = body.get("event")
    if event is not None and event not in _EVENTS:
        raise _invalid("PullRequestReview", "event")
    if event in ("REQUEST_CHANGES", "COMMENT") and not body.get("body"):
        raise ApiError(422, f'Unprocessable Entity: "Body is required for {event.lower()}"')
    if event in ("APPROVE", "REQUEST_CHANGES") and c.user.id == pull.user.id:
        verb = "approve" if event == "APPROVE" else "request changes on"
        raise ApiError(422, f"Unprocessable Entity: Can not {verb} your own pull request")
    commit_id = body.get("commit_id") or pull.head_sha
    if commit_id not in c.repo.commits:
        raise ApiError(422, "Unprocessable Entity: commit_id is not part of the pull request")
    state = _EVENTS.get(event, "PENDING") if event else "PENDING"
    review = Review(
        gh.next_id(),
        pull.number,
        c.user,
        state,
        str(body.get("body") or ""),
        commit_id,
        None if state == "PENDING" else _now(),
    )
    c.repo.reviews.append(review)
    return 200, gh.review_json(c.repo, review), {}


@route("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals")
def _dismiss_review(gh: FakeGitHub, c: Context) -> Response:
    """As GitHub: an approval or a request for changes becomes DISMISSED, and an issue
    event records who dismissed it, when, and what it was."""
    pull, body = _pull(c), c.body or {}
    review = next(
        (
            r
            for r in c.repo.reviews
            if r.id == int(c.params["review_id"]) and r.number == pull.number
        ),
        None,
    )
    if review is None:
        raise _not_found()
    if not isinstance(body.get("message"), str):
        raise _invalid("PullRequestReview", "message", "missing_field")
    if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
        raise ApiError(422, f"Can not dismiss a {review.state.lower()} pull request review")
    before = review.state
    review.state = "DISMISSED"
    dismissed = {
        "state": before.lower(),
        "review_id": review.id,
        "dismissal_message": body["message"],
        "dismissal_commit_id": pull.head_sha,
    }
    c.repo.events.append(
        IssueEvent(gh.next_id(), pull.number, "review_dismissed", c.user, _now(), dismissed)
    )
    return 200, gh.review_json(c.repo, review), {}


@route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers")
def _request_reviewers(gh: FakeGitHub, c: Context) -> Response:
    pull = _pull(c)
    for login in (c.body or {}).get("reviewers") or []:
        user = gh.users.get(login)
        if user is None:
            raise ApiError(
                422,
                "Reviews may only be requested from collaborators. "
                "One or more of the users or teams you specified is not a "
                "collaborator of the repository.",
            )
        if user.id == pull.user.id:
            raise ApiError(422, "Review cannot be requested from pull request author.")
        if user not in pull.requested:
            pull.requested.append(user)
    return 201, gh.pull_json(c.repo, pull, full=False), {}


@route("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")
def _merge(gh: FakeGitHub, c: Context) -> Response:
    repo, body = c.repo, c.body or {}
    pull = repo.sync(_pull(c))
    if pull.state != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    if body.get("sha") and body["sha"] != pull.head_sha:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    method = body.get("merge_method", "merge")
    if method not in ("merge", "squash"):
        raise ApiError(405, f"{method.capitalize()} merges are not allowed on this repository.")
    base_tip = repo.refs[f"heads/{pull.base_ref}"]
    merge_base = repo.merge_base(pull.head_sha, base_tip)
    ancestor = repo.flatten(repo.commits[merge_base].tree) if merge_base else {}
    ours = repo.flatten(repo.commits[base_tip].tree)
    theirs = repo.flatten(repo.commits[pull.head_sha].tree)
    merged = dict(ours)
    for path in ancestor.keys() | theirs.keys():
        if ancestor.get(path) == theirs.get(path):
            continue
        if ours.get(path) not in (ancestor.get(path), theirs.get(path)):
            raise ApiError(405, "Pull Request is not mergeable")
        if path in theirs:
            merged[path] = theirs[path]
        else:
            merged.pop(path, None)
    title = body.get("commit_title") or (
        f"Merge pull request #{pull.number} from {repo.owner.login}/{pull.head_ref}"
        if method == "merge"
        else f"{pull.title} (#{pull.number})"
    )
    message = body.get("commit_message") or (pull.title if method == "merge" else "")
    parents = (base_tip, pull.head_sha) if method == "merge" else (base_tip,)
    commit = repo.put_commit(
        tree=repo.put_tree(merged),
        parents=parents,
        message=f"{title}\n\n{message}".rstrip() + "\n",
        user=c.user,
    )
    repo.refs[f"heads/{pull.base_ref}"] = commit.sha
    now = _now()
    pull.state, pull.closed_at, pull.merged_at, pull.updated_at = "closed", now, now, now
    pull.merged_by = pull.closed_by = c.user
    pull.merge_commit_sha, pull.base_tip = commit.sha, base_tip
    return (
        200,
        {"sha": commit.sha, "merged": True, "message": "Pull Request successfully merged"},
        {},
    )


# -- issues (a pull request is an issue) -------------------------------------------------
_REASONS = ("completed", "not_planned", "duplicate", "reopened")


@route("GET", "/repos/{owner}/{repo}/issues")
def _list_issues(gh: FakeGitHub, c: Context) -> Response:
    """Issues and pull requests, newest first unless ``direction=asc``; ``labels`` (comma
    separated) keeps those carrying every one."""
    state = c.query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise _invalid("Issue", "state")
    wanted = {name for name in c.query.get("labels", "").split(",") if name}
    items = [
        item
        for item in c.repo.items()
        if state in ("all", item.state) and wanted <= set(item.labels)
    ]
    key = "updated_at" if c.query.get("sort") == "updated" else "created_at"
    items.sort(key=lambda i: (getattr(i, key), i.number), reverse=c.query.get("direction") != "asc")
    return gh.page(c, [gh.issue_json(c.repo, item, full=False) for item in items])


@route("POST", "/repos/{owner}/{repo}/issues")
def _create_issue(gh: FakeGitHub, c: Context) -> Response:
    body = c.body or {}
    title = body.get("title")
    if isinstance(title, int) and not isinstance(title, bool):
        title = str(title)  # GitHub takes a number as a title
    if not isinstance(title, str) or not title:
        raise _invalid("Issue", "title", "missing_field")
    text = body.get("body")
    if text is not None and not isinstance(text, str):
        raise _invalid("Issue", "body")
    now = _now()
    issue = Issue(c.repo.next_number(), gh.next_id(), c.user, title, text, now, now)
    issue.labels = _label_names(body.get("labels"))
    c.repo.issues[issue.number] = issue
    return 201, gh.issue_json(c.repo, issue), {}


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}")
def _get_issue(gh: FakeGitHub, c: Context) -> Response:
    item = _item(c)
    if isinstance(item, Pull):
        c.repo.sync(item)
    return 200, gh.issue_json(c.repo, item), {}


@route("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}")
def _update_issue(gh: FakeGitHub, c: Context) -> Response:
    """Title, body, labels (replaced) and state; a pull request closes and reopens too."""
    item, body = _item(c), c.body or {}
    state, reason = body.get("state"), body.get("state_reason")
    if state not in (None, "open", "closed"):
        raise _invalid("Issue", "state")
    if reason not in (None, *_REASONS):
        raise _invalid("Issue", "state_reason")
    title = body.get("title", item.title)
    if not isinstance(title, str) or not title:
        raise _invalid("Issue", "title")
    text = body.get("body", item.body)
    if text is not None and not isinstance(text, str):
        raise _invalid("Issue", "body")
    item.title, item.body = title, text
    if "labels" in body:
        item.labels = _label_names(body["labels"])
    if isinstance(item, Pull):
        _set_pull_state(c, c.repo.sync(item), state)
    elif state == "closed" and item.state == "open":
        item.state, item.closed_at, item.closed_by = "closed", _now(), c.user
        item.state_reason = reason or "completed"
    elif state == "open" and item.state == "closed":
        item.state, item.state_reason = "open", "reopened"
        item.closed_at = item.closed_by = None
    item.updated_at = _now()
    return 200, gh.issue_json(c.repo, item), {}


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def _list_comments(gh: FakeGitHub, c: Context) -> Response:
    number = _item(c).number
    comments = [m for m in c.repo.comments.values() if m.number == number]
    return gh.page(c, [gh.comment_json(c.repo, m) for m in comments])


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/events")
def _list_issue_events(gh: FakeGitHub, c: Context) -> Response:
    number = _item(c).number
    events = [e for e in c.repo.events if e.number == number]
    return gh.page(c, [gh.issue_event_json(c.repo, e) for e in events])


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def _create_comment(gh: FakeGitHub, c: Context) -> Response:
    number = _item(c).number
    text = (c.body or {}).get("body")
    if not isinstance(text, str) or not text:
        raise _invalid("IssueComment", "body", "missing_field")
    now = _now()
    comment = IssueComment(gh.next_id(), number, c.user, text, now, now)
    c.repo.comments[comment.id] = comment
    return 201, gh.comment_json(c.repo, comment), {}


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def _update_comment(gh: FakeGitHub, c: Context) -> Response:
    comment = c.repo.comments.get(int(c.params["comment_id"]))
    if comment is None:
        raise _not_found()
    text = (c.body or {}).get("body")
    if not isinstance(text, str) or not text:
        raise _invalid("IssueComment", "body", "missing_field")
    comment.body, comment.updated_at = text, _now()
    return 200, gh.comment_json(c.repo, comment), {}


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels")
def _add_labels(gh: FakeGitHub, c: Context) -> Response:
    item = _item(c)
    body = c.body
    names = body.get("labels") if isinstance(body, dict) else body
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise _invalid("Label", "labels")
    item.labels += [n for n in dict.fromkeys(names) if n not in item.labels]
    return 200, [gh.label_json(c.repo, n) for n in item.labels], {}


@route("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}")
def _remove_label(gh: FakeGitHub, c: Context) -> Response:
    item = _item(c)
    if c.params["name"] not in item.labels:
        raise ApiError(404, "Label does not exist")
    item.labels.remove(c.params["name"])
    return 200, [gh.label_json(c.repo, n) for n in item.labels], {}


# -- commit statuses ---------------------------------------------------------------------
_STATES = ("error", "failure", "pending", "success")


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}")
def _create_status(gh: FakeGitHub, c: Context) -> Response:
    body = c.body or {}
    commit = _commit_for(c, c.params["sha"])
    if body.get("state") not in _STATES:
        raise _invalid("Status", "state")
    status = Status(
        gh.next_id(),
        commit.sha,
        body["state"],
        body.get("context") or "default",
        body.get("description"),
        body.get("target_url"),
        c.user,
        _now(),
    )
    c.repo.statuses.append(status)
    return 201, gh.status_json(c.repo, status), {}


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses")
def _list_statuses(gh: FakeGitHub, c: Context) -> Response:
    sha = _commit_for(c, c.params["ref"]).sha
    statuses = [s for s in reversed(c.repo.statuses) if s.sha == sha]  # newest first
    return gh.page(c, [gh.status_json(c.repo, s) for s in statuses])


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server_version = "GitHub.com"
    sys_version = ""

    def _serve(self) -> None:
        fake: FakeGitHub = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, data, headers, delay = fake.handle(
            self.command, self.path, self.headers.get("Authorization"), body
        )
        if delay:
            time.sleep(delay)
        if status == 0:  # a dropped reply: the connection closes with no answer
            self.close_connection = True
            return
        payload = b"" if data is None else json.dumps(data).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
            self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
            self.send_header("X-GitHub-Request-Id", f"FAKE:{fake.next_id()}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``FakeGitHub.calls`` instead of an access log."""


def start_fake_github(*, users: Mapping[str, tuple[str, int]]) -> FakeGitHub:
    """Start a fake GitHub on 127.0.0.1 (a free port); ``users`` maps token -> (login, id)."""
    return FakeGitHub(users)


def make_github_forge(
    server: FakeGitHub,
    *,
    repo: str,
    governance: tuple[str, int],
    agents: Mapping[str, tuple[str, int]],
    **options: Any,
) -> GitHubForge:
    """A GitHubForge on ``server`` whose governance account and agent bots (name -> (login, id))
    each get a token of their own, registered with the server."""
    governance_token = f"ghp_governance_{governance[1]}"
    server.add_user(token=governance_token, login=governance[0], id=governance[1])
    agent_tokens: dict[int, SecretStr] = {}
    for name, (login, user_id) in agents.items():
        token = f"ghp_{name}_{user_id}"
        server.add_user(token=token, login=login, id=user_id)
        agent_tokens[user_id] = SecretStr(token)
    # Like PyGithub's throttle, pacing under GitHub's secondary limits is off unless a test
    # passes its own limits (tests/forge/test_github_limits.py): the fake has none.
    unpaced = github_pacing.Limits(per_minute=10**6, per_hour=10**6)
    settings: dict[str, Any] = {"backoff": 0.0, "throttle": False, "pacing": unpaced} | options
    return GitHubForge(
        repo=repo,
        api_url=server.url,
        token=SecretStr(governance_token),
        agent_tokens=agent_tokens,
        governance_id=governance[1],
        **settings,
    )


def make_org_forge(
    server: FakeGitHub,
    root: Path,
    org: loading.Organization,
    *,
    admins: Mapping[str, tuple[str, int]],
    **options: Any,
) -> GitHubForge:
    """``org``'s governance repository on ``server``, holding the `org/` and `profiles/` of
    the checkout at ``root``, and a GitHubForge on it (see :func:`make_github_forge`) with
    a token for the governance bot, every agent's bot and each of ``admins`` (name ->
    (login, id)), who administer the repository."""
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).parts[0] in ("org", "profiles")
    }
    repo = org.org.governance_repo.repo
    server.create_repo(repo, files=files)
    governance = org.org.governance_repo.bot
    assert governance is not None
    for login, _ in admins.values():
        server.set_permission(login, "admin")
    people = {a: (b.login, b.id) for a, b in org.org.bots.items()} | dict(admins)
    return make_github_forge(
        server, repo=repo, governance=(governance.login, governance.id), agents=people, **options
    )


from support import fake_github_apps  # noqa: E402,F401 - registers /app and installations

# isort: split
from support import fake_github_admin  # noqa: E402,F401 - registers org settings

# isort: split
from support import fake_github_limits  # noqa: E402,F401 - registers its routes

# isort: split
from support import fake_github_oauth  # noqa: E402,F401 - registers its routes

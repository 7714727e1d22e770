"""Calling GitHub: one PyGithub client per token, retries, and GitHub's errors in ours.

:class:`GitHubCalls` is the part of :class:`aito.forge.github.GitHubForge` every other
part calls through. The governance token reads, labels, sets statuses, edits the
tally's comments, merges and closes; an agent's bot token (``agent_tokens``, by the
bot's numeric user id) acts as that agent. An ``author`` with no token of its own is
refused (a ConfigError naming the secret to set): on GitHub an agent writes only with
its own token, so nothing it does is recorded under another account. Each token comes
from a :class:`~aito.forge.github_apps.TokenSource` (a GitHub App's installation tokens,
refreshed before they expire, or a static token), read per request.

Errors are translated here: 5xx, timeouts and rate limits are retried and then raised
as `TemporaryAdapterError`; 401/403/404/422 raise `PermanentAdapterError` saying what to
check. A rate limit is waited out as GitHub asks: ``retry-after`` seconds when given; else,
with ``x-ratelimit-remaining: 0``, until ``x-ratelimit-reset`` (epoch seconds, by the
forge's ``clock``); else (a secondary limit without headers, or any 429) at least a
minute, then exponentially longer. A wait longer than ``max_wait`` is raised at once
with its ``retry_after``. PyGithub's own retry is off (``retry=None``) so it does not
double ours. Tokens are never logged nor put in messages.

Writes (``paced=``) go through the account's :class:`~aito.forge.github_pacing.Pacer`,
once per attempt, so no token exceeds GitHub's content-creation limits. A create that
may have happened although its reply was lost (``recover=``: a reset connection, a
timeout, a 5xx) is looked for before it is sent again (:mod:`aito.forge.github_markers`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import NamedTuple, TypeVar

import github
from github import GithubException
from github.Repository import Repository

from aito import errors, retrying
from aito.forge import base as port
from aito.forge import github_apps, github_pacing

T = TypeVar("T")
SERVICE = "github"
GOVERNANCE = "the governance token"


class Account(NamedTuple):
    client: github.Github
    repo: Repository
    credential: str  # how messages name the token, e.g. "the token of ceo-bot"
    pacer: github_pacing.Pacer  # this token's writes, under GitHub's secondary limits
    identity: port.Identity | None = None  # whose token it is (None: asked of GitHub)


class GitHubCalls:
    """Accounts and calls of :class:`aito.forge.github.GitHubForge` (set by its constructor)."""

    repo_name: str
    _api_url: str
    _timeout: int
    _throttle: bool
    _backoff: float
    _retry: retrying.Policy
    _sleep: Callable[[float], None]
    _clock: Callable[[], float]  # epoch seconds: x-ratelimit-reset and the pacing windows
    _limits: github_pacing.Limits
    _max_wait: float
    _gov: Account
    _governs: bool
    _governance_id: int | None
    _agent_tokens: dict[int, github_apps.TokenSource]
    _token_hints: dict[int, str]
    _agents: dict[int, Account]

    def _connect(
        self,
        source: github_apps.TokenSource,
        credential: str,
        identity: port.Identity | None = None,
    ) -> Account:
        client = github.Github(
            auth=github_apps.SourceAuth(source),
            base_url=self._api_url,
            timeout=self._timeout,
            per_page=100,
            retry=None,
            lazy=True,  # objects are fetched when read, so a write costs one request
            seconds_between_requests=0.25 if self._throttle else None,
            seconds_between_writes=1.0 if self._throttle else None,
        )
        pacer = github_pacing.Pacer(
            limits=self._limits, clock=self._clock, sleep=self._sleep, max_wait=self._max_wait
        )
        return Account(client, client.get_repo(self.repo_name), credential, pacer, identity)

    def _as(self, author: port.Identity) -> Account:
        """``author``'s own account (the governance bot's is the governance token); an
        author with no token of its own is a ConfigError naming what to set."""
        source = self._agent_tokens.get(author.id)
        if source is None:
            if author.id == self._governance_id:
                return self._governance()
            hint = self._token_hints.get(author.id) or "give it a token of its own"
            raise errors.ConfigError(
                f"{author.login} has no GitHub token of its own: {hint} (on GitHub an "
                "agent writes only with its own token, never the governance bot's)"
            )
        if author.id not in self._agents:
            self._agents[author.id] = self._connect(
                source, f"the token of {author.login}", identity=author
            )
        return self._agents[author.id]

    @staticmethod
    def _me(account: Account, author: port.Identity) -> port.Identity:
        """Whose items a create as ``author`` makes: the bot's own, or, on the governance
        token, ``author`` (the forge's callers name the governance bot for its writes)."""
        return account.identity or author

    def _governance(self) -> Account:
        """The governance account, for what only the governance App does (statuses,
        labels, tally comments, merges, closes); refused where this forge reads with an
        agent's token (an agent's job holds no governance key)."""
        if not self._governs:
            raise port.GovernanceOnly(
                "only the governance App sets statuses, labels and tally comments and merges "
                "or closes pull requests: set AITO_GOVERNANCE_APP_ID and "
                "AITO_GOVERNANCE_APP_KEY (or AITO_GITHUB_TOKEN) where this runs"
            )
        return self._gov

    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        credential: str = GOVERNANCE,
        conflict: Collection[int] = (),
        paced: Account | None = None,
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """Run ``fn`` (PyGithub calls), retrying temporary failures; translate errors.

        ``paced``: ``fn`` writes as that account; each attempt waits for its pacer.
        ``recover``: ``fn`` creates something; after an attempt that may have acted
        although its reply was lost, ``recover()`` looks for what it made (by its
        marker) and its answer, when not None, is the result instead of a second write.
        """
        attempt = 0
        uncertain = False

        def once() -> T:
            nonlocal attempt, uncertain
            try:
                if uncertain and recover is not None:
                    found = recover()
                    if found is not None:
                        return found
                if paced is not None:
                    paced.pacer.admit(f"{what} on {self.repo_name}")
                return fn()
            except (GithubException, OSError) as exc:  # requests' errors are OSErrors
                if isinstance(exc, GithubException) and exc.status in conflict:
                    raise port.MergeConflict(f"{what}: {error_message(exc)}") from exc
                uncertain = uncertain or _maybe_acted(exc)
                raise self._translate(
                    exc, f"{what} on {self.repo_name}", credential, attempt
                ) from exc
            finally:
                attempt += 1

        return retrying.call(once, policy=self._retry, sleep=self._sleep, what=what)

    def _maybe(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        credential: str = GOVERNANCE,
        paced: Account | None = None,
    ) -> T | None:
        """Like :meth:`_call`, but None where GitHub answers 404."""
        try:
            return self._call(what, fn, credential=credential, paced=paced)
        except errors.PermanentAdapterError as exc:
            if http_status(exc) == 404:
                return None
            raise

    def _translate(
        self, exc: GithubException | OSError, where: str, credential: str, attempt: int
    ) -> errors.TemporaryAdapterError | errors.PermanentAdapterError:
        wait = self._backoff * 2**attempt
        if isinstance(exc, OSError):  # timeouts, refused or reset connections
            return errors.TemporaryAdapterError(
                SERVICE, f"{where}: {type(exc).__name__}", retry_after=wait
            )
        status, message = exc.status, error_message(exc)
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        spent = headers.get("x-ratelimit-remaining") == "0"
        if status == 429 or (
            status == 403 and ("retry-after" in headers or spent or "rate limit" in message.lower())
        ):
            if "retry-after" in headers:
                wait = max(_seconds(headers["retry-after"], wait), 0.0)
            elif spent:
                reset = _seconds(headers.get("x-ratelimit-reset", ""), 0)
                wait = max(reset - self._clock(), wait)
            else:
                # GitHub: "wait for at least one minute", then exponentially longer
                wait = max(wait, 60.0 * 2**attempt)
            limited = f"{where}: rate limited ({status}: {message})"
            return errors.TemporaryAdapterError(SERVICE, limited, retry_after=wait)
        if status >= 500:
            failed = f"{where}: GitHub answered {status} ({message})"
            return errors.TemporaryAdapterError(SERVICE, failed, retry_after=wait)
        hint = {
            401: f"{credential} was rejected (401 {message}); check that it is set, valid "
            "and not expired",
            403: f"forbidden (403: {message}); check that {credential} has the scopes it needs "
            "(contents, pull requests, issues and statuses: write) and access to the repo",
            404: "not found (404); check that the repository, branch or pull request exists "
            f"and that {credential} can see it (GitHub answers 404 to tokens without access)",
        }.get(status, f"GitHub refused the request ({status}: {message})")
        return errors.PermanentAdapterError(SERVICE, f"{where}: {hint}")


def error_message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    texts = [data.get("message") or exc.message or "no message"]
    for error in data.get("errors") or []:
        texts.append(
            error.get("message") or error.get("code") if isinstance(error, dict) else error
        )
    return "; ".join(str(text) for text in texts if text)


def http_status(exc: Exception) -> int | None:
    cause = exc.__cause__
    return cause.status if isinstance(cause, GithubException) else None


def _maybe_acted(exc: GithubException | OSError) -> bool:
    """Whether GitHub may have acted although the call failed: the connection broke or
    timed out (requests' errors are OSErrors), or the server failed (5xx) mid-way."""
    return isinstance(exc, OSError) or exc.status >= 500


def _seconds(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default

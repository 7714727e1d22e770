"""Wake-ups on GitHub: `repository_dispatch` events that start an agent's workflow.

:class:`DispatchMethods` is the part of :class:`aito.forge.github.GitHubForge` that sends
``POST /repos/{owner}/{repo}/dispatches`` on its repository (the governance repo, where
every `agent-<id>.yml` listens for ``aito-wake-<id>``). :class:`GitHubWakes` is the
:class:`aito.bus.waking.WakeSender` built on it.

Which token sends: the acting agent's own bot token for what its run sends (messages,
tasks, alerts), the governance token for the tally's decision results. GitHub requires
write access to the repository's contents for a dispatch (a classic token's ``repo``
scope, an App's ``contents: write``), which both already have to commit. The
``client_payload`` is small and holds ids only: which agent, why (the message type or
``decision``), the source (a message or decision id) and who sent it — never message
text nor a secret (the event payload is visible to anyone who can read the workflow run).

A dispatch is not idempotent and carries no body to mark: one retried after a lost reply
may wake the agent twice, which its workflow's concurrency group collapses (at most one
run pending behind the current one).
"""

from __future__ import annotations

from collections.abc import Mapping

from aito.forge import base as port
from aito.forge.github_calling import GitHubCalls

EVENT_PREFIX = "aito-wake-"


def event_type(agent_id: str) -> str:
    """The repository_dispatch type `agent-<id>.yml` listens for."""
    return f"{EVENT_PREFIX}{agent_id}"


class DispatchMethods(GitHubCalls):
    """repository_dispatch of :class:`aito.forge.github.GitHubForge`."""

    def dispatch(
        self,
        *,
        event_type: str,
        client_payload: Mapping[str, str],
        author: port.Identity | None = None,
    ) -> None:
        """Send a repository_dispatch event as ``author`` (None: the governance token)."""
        account = self._gov if author is None else self._as(author)
        repo = account.repo
        payload = {"event_type": event_type, "client_payload": dict(client_payload)}
        self._call(
            f"dispatch {event_type}",
            lambda: repo.requester.requestJsonAndCheck(
                "POST", f"{repo.url}/dispatches", input=payload
            ),
            credential=account.credential,
            paced=account,
        )


class GitHubWakes:
    """Wakes agents through ``forge``'s repository. ``bots`` maps an agent id to the bot
    account that acts for it (whose token the forge holds), so a wake goes out as the
    agent that caused it; a sender it does not name (``governance``, the tally) uses the
    governance token."""

    def __init__(self, forge: DispatchMethods, *, bots: Mapping[str, port.Identity]) -> None:
        self._forge = forge
        self._bots = dict(bots)

    def __call__(self, *, agent_id: str, reason: str, source: str, sender: str | None) -> None:
        author = None if sender is None else self._bots.get(sender)
        self._forge.dispatch(
            event_type=event_type(agent_id),
            client_payload={
                "agent": agent_id,
                "reason": reason,
                "source": source,
                "from": sender or "governance",
            },
            author=author,
        )

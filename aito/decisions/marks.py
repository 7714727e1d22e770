"""The governance bot's own mark in its tally comment, and how the comment shows text.

The tally comment is for people, and it carries what the bot must remember between
tallies: the policy frozen when the proposal opened, the decision's tier, amount and
proposer as proposed, the heads it has seen (with when it first saw each), and the
state it last announced. That memory is a single **mark**, the comment's very last
line::

    <!-- aito:mark v2 <base64 of zlib-compressed JSON> -->

It is trusted only when (1) the comment's author is the governance bot, matched by
numeric id, (2) it is the last line, matched whole by a strict pattern, of a comment
whose first line is :data:`TALLY_MARK`, and (3) its content validates as :class:`Mark`.
Nothing else in the comment is ever parsed. Text a proposer controls (file names,
titles, ids, reasons quoting them, logins) is shown through :func:`text`: one line,
cut short, with ``<``, ``>`` and ``&`` as HTML entities, Markdown punctuation escaped
and invisible or direction-changing marks shown as escapes, so it can neither open a
``<!--`` comment, nor render as markup, nor mention anyone, nor stand on a line of its
own, nor read backwards.

Comments written before this format (a ``<!-- aito:policy … -->`` line followed by a
``<!-- aito:state … -->`` line, as the comment's last two lines) are still read, by
position only, and rewritten in this format at the next tally. A tally comment of the
bot's that reads as neither was edited by someone else: :func:`find` refuses it rather
than forget what it held. (A substituted mark that reads is not detected: GitHub does
not say who edited a comment through its REST API; see README, "On GitHub".)
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import re
import zlib
from collections.abc import Sequence

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from aito.errors import GovernanceError
from aito.forge.base import Comment, Identity
from aito.governance.policies import Policy
from aito.governance.verdicts import Verdict
from aito.org.organization import Tier

TALLY_MARK = "<!-- aito:tally -->"  # the comment's first line, for people and searches
MAX_HEADS = 200
_MARK = re.compile(r"<!-- aito:mark v2 ([A-Za-z0-9+/]{4,180000}={0,2}) -->")
_LEGACY_POLICY = re.compile(r"<!-- aito:policy ([A-Za-z0-9+/]{4,180000}={0,2}) -->")
_LEGACY_STATE = re.compile(r"<!-- aito:state ([a-z_]{1,20}) -->")
_MAX_JSON = 2_000_000


class Proposal(BaseModel):
    """A decision as proposed: its id and proposer never change, and its tier and amount
    only ever go up (the highest the record has said at any head the bot saw)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: str
    proposer: str
    tier: Tier
    amount_usd: float = Field(ge=0, allow_inf_nan=False)


class Head(BaseModel):
    """A head of the pull request and when it became the head (server time, or when the
    bot first saw it: never earlier than the push)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha: str = Field(pattern=r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
    tree: str = Field(pattern=r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
    at: dt.datetime


class Mark(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    policies: dict[Tier, Policy]
    state: str = Field(pattern=r"^[a-z_]{1,20}$")
    proposal: Proposal | None = None
    heads: tuple[Head, ...] = Field(default=(), max_length=MAX_HEADS)


@dataclasses.dataclass(frozen=True)
class TallyComment:
    comment: Comment
    mark: Mark


def find(comments: Sequence[Comment], governance: Identity) -> TallyComment | None:
    """The governance bot's tally comment (the first of its comments with a valid mark).

    Raises :class:`GovernanceError` when one of the bot's tally comments no longer reads
    back (the bot never writes such a mark, see :func:`render`): anyone with write
    access can edit any comment on GitHub, and forgetting the frozen policy, the
    proposal and the heads because someone broke the mark must not be the way round
    them. A maintainer then decides, or deletes that comment to start afresh."""
    found = None
    for comment in comments:
        if comment.user.id != governance.id:
            continue
        mark = parse(comment.body)
        if mark is None and comment.body.lstrip().startswith(TALLY_MARK):
            raise GovernanceError(
                f"the governance bot's tally comment {comment.id} was edited and its mark no "
                "longer reads: nothing is decided until a maintainer merges or closes the "
                "pull request, or deletes that comment to start the tally afresh"
            )
        if mark is not None and found is None:
            found = TallyComment(comment, mark)
    return found


def parse(body: str) -> Mark | None:
    """The mark on the last line of ``body``, or None (anything else is never read).

    The body must also open with :data:`TALLY_MARK`: both ends of a tally comment are
    the bot's own, so no other comment it writes can be taken for one."""
    lines = body.rstrip().splitlines()
    if len(lines) < 2 or lines[0] != TALLY_MARK:
        return None
    found = _MARK.fullmatch(lines[-1])
    if found is not None:
        raw = _decode(found.group(1), compressed=True)
        return _validated(raw)
    if len(lines) >= 2:
        policy = _LEGACY_POLICY.fullmatch(lines[-2])
        state = _LEGACY_STATE.fullmatch(lines[-1])
        if policy is not None and state is not None:
            raw = _decode(policy.group(1), compressed=False)
            if isinstance(raw, dict):
                return _validated({"policies": raw, "state": state.group(1)})
    return None


def render(mark: Mark) -> str:
    """The mark's line (the comment's last line).

    Raises :class:`GovernanceError` rather than write a mark that would not read back
    whole: a mark that reads back as nothing would make the next tally forget the frozen
    policy, the proposal and the heads it saw."""
    data = mark.model_dump_json().encode()
    line = f"<!-- aito:mark v2 {base64.b64encode(zlib.compress(data, 9)).decode()} -->"
    if parse(f"{TALLY_MARK}\n{line}") != mark:
        raise GovernanceError("the tally's mark would not read back whole: nothing was applied")
    return line


def _decode(text: str, *, compressed: bool) -> object:
    try:
        data = base64.b64decode(text, validate=True)
        if compressed:
            inflate = zlib.decompressobj()
            data = inflate.decompress(data, _MAX_JSON)
            if inflate.unconsumed_tail:
                return None  # larger than any mark this bot writes
        return json.loads(data)
    except (binascii.Error, zlib.error, ValueError, RecursionError):
        return None


def _validated(raw: object) -> Mark | None:
    try:
        return Mark.model_validate(raw)
    except pydantic.ValidationError:
        return None


_MARKDOWN = re.compile(r"([\\`*_\[\]{}()#+!|~])")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
# Invisible and direction-changing marks: shown as escapes, so a right-to-left override
# in a file name cannot make the comment read "approved" where it does not say so.
_INVISIBLE = re.compile(r"[\x80-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def text(value: object, limit: int = 300) -> str:
    """``value`` safe to show in a bot comment (see the module docstring)."""
    shown = _LINE_BREAKS.sub(" ", str(value)).strip()
    shown = _INVISIBLE.sub(lambda m: m.group().encode("unicode_escape").decode(), shown)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    shown = shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    shown = _MARKDOWN.sub(r"\\\1", shown)
    return shown.replace("@", "@\u200b")  # no mentions from quoted text


def comment(verdict: Verdict, problems: list[str], mark: Mark) -> str:
    """The tally comment: for people, every value through :func:`text`; the mark last."""
    t = text
    votes = ", ".join(
        f"{t(agent)}: {vote.value if vote else '—'}" for agent, vote in verdict.votes.items()
    )
    lines = [
        TALLY_MARK,
        f"**Decision `{t(verdict.decision_id)}`** ({verdict.tier.value}): "
        f"**{verdict.status.value}** — round {verdict.round}, {verdict.stage.value}",
        "",
        f"- reason: {t(verdict.reason, 600)}",
    ]
    if votes:
        lines.append(f"- votes: {votes}")
    if verdict.missing:
        lines.append(f"- missing: {t(', '.join(verdict.missing))}")
    if verdict.deadline:
        lines.append(f"- deadline: {verdict.deadline.isoformat()}")
    if verdict.human_decision:
        via = f" ({verdict.decided_via.value})" if verdict.decided_via else ""
        lines.append(
            f"- maintainer decision: {verdict.human_decision.value} by {t(verdict.decided_by)}{via}"
        )
    if verdict.violation:
        lines.append(f"- ⚠ violation: {t(verdict.violation, 300)}; the maintainers are alerted")
    if verdict.held:
        lines.append("- on hold (`aito/hold`): nothing merges until the label is removed")
    lines += [f"- ⚠ {t(problem, 600)}" for problem in problems[:20]]
    if len(problems) > 20:
        lines.append(f"- ⚠ and {len(problems) - 20} more")
    lines += [
        "",
        "_Votes are PR reviews by the voters' bot accounts (approve / request changes; a "
        'comment review starting with "abstain"). This comment is rewritten by `aito decide '
        "tally`; text in comments never counts as a vote._",
        render(mark),
    ]
    return "\n".join(lines)

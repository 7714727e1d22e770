"""The offline model: a deterministic, rule-driven stand-in for Claude (no key needed).

It is clearly not a language model: it reads the structured context the prompt was
rendered from (``ModelRequest.context``) and applies fixed rules per role, so the
whole organization runs on the embedded defaults and every run is reproducible
(``seed`` only varies wording). Its answers are ordinary tool calls that go through
the same validation, checks and execution as Claude's. Usage is reported as the
token counts the prompt (tool schemas included) and answer would have (4 characters
a token), so budgets and cost accounting work; cost is priced as the agent's
configured model. Prompt caching is simulated as Anthropic does it
(:class:`aito.llm.caching.PromptCache`: the request's two breakpoints, 5-minute
lifetimes refreshed by reads, the model's minimum cacheable length) on the time the
request carries (its context's ``now``, the simulated clock in `aito demo`), so the
cache reads and writes it reports are those the same calls would have made; the
cache is this model object's own (one process), as if it were the only client.

The rules, by what is on the table:

* answer every status_request in the inbox with a status_response built from the
  verified facts (cited by id), and alert the CEO about blocked tasks;
* give round-2 analysis and votes by role: the CEO backs proposals of agents that
  report to it up to $5,000; the DAO vetoes treasury spend above $500 that has not
  gone to the community; the CFO vetoes spend above $750; the COO approves up to
  $5,000; the CTO and CCO abstain outside technology and compliance (they approve
  inside); a minor decision nobody objects to is left to lazy consensus;
* tasks: start a pending one when fewer than two are in progress, hand it to a
  worker when the agent has a fitting worker kind, otherwise finish it with a
  result (workers finish theirs and open a PR with the draft inside their paths);
* the CEO runs the status-query loop: asks every C-level for status with a
  deadline, aggregates the answers it got, lists who is missing, creates a task
  for each problem reported, and schedules the next round;
* on its first run a C-level agent makes one proposal its profile suggests (the
  CMO a major campaign and a content task for its writer, the CTO a minor
  engineering policy, the COO an initiative), remembered in its state so it is
  not repeated;
* every answer ends with a summary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

from aito.llm import caching
from aito.llm.base import CHARS_PER_TOKEN, ModelRequest, ModelResponse, ToolCall

PROVIDER = "offline"
MAX_TASKS_IN_PROGRESS = 2
CLOSINGS = ("Ready for review.", "Feedback welcome.", "Please review before publishing.")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OfflineModel:
    """Rule-driven answers from the context; deterministic for a given seed.

    ``clock`` times a request whose context carries no ``now`` (for the cache).
    """

    def __init__(self, *, seed: int = 0, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self._seed = seed
        self._clock = clock
        self.cache = caching.PromptCache()

    @property
    def provider(self) -> str:
        return PROVIDER

    def complete(self, request: ModelRequest) -> ModelResponse:
        rng = random.Random(f"{self._seed}:{request.seed}:{request.run_id}")
        calls = _Rules(request.context, rng).answer() if request.context else []
        if request.feedback:
            calls = [c for c in calls if c[0] == "summary"] or [
                ("summary", {"text": "Nothing to add."})
            ]
        tool_calls = [
            ToolCall(
                id=f"toolu_{hashlib.sha256(f'{request.run_id}:{i}'.encode()).hexdigest()[:20]}",
                name=name,
                input=data,
            )
            for i, (name, data) in enumerate(calls)
        ]
        answer = json.dumps([[c.name, c.input] for c in tool_calls])
        usage = self.cache.account(
            model=request.model, parts=caching.segments(request), now=self._now(request)
        )
        return ModelResponse(
            provider=PROVIDER,
            model=request.model,
            tool_calls=tool_calls,
            text="(offline model: rule-driven stand-in, not a language model)",
            stop_reason="tool_use",
            usage=usage.model_copy(update={"output_tokens": len(answer) // CHARS_PER_TOKEN + 1}),
            latency_ms=0,
        )

    def _now(self, request: ModelRequest) -> dt.datetime:
        stamp = request.context.get("now")
        if isinstance(stamp, str):
            with contextlib.suppress(ValueError):
                when = dt.datetime.fromisoformat(stamp)
                if when.tzinfo is not None:
                    return when
        return self._clock()


Call = tuple[str, dict[str, Any]]


class _Rules:
    def __init__(self, context: dict[str, Any], rng: random.Random) -> None:
        self.c = context
        self.rng = rng
        self.me = context["agent"]
        self.facts = {f["id"]: f for f in context.get("facts", [])}
        self.state = context.get("state", {})
        self.now = dt.datetime.fromisoformat(context["now"])
        self.notes: list[str] = []
        self.blocked: set[str] = set()

    def answer(self) -> list[Call]:
        calls: list[Call] = []
        calls += self.status_answers()
        calls += self.votes()
        if self.me["type"] == "ceo":
            calls += self.ceo_status_loop()
        calls += self.follow_ups()
        calls += self.tasks()
        calls += self.first_proposals()
        calls.append(("summary", {"text": self.summary(calls)}))
        return calls

    # -- inbox --------------------------------------------------------------------------

    def status_answers(self) -> list[Call]:
        out: list[Call] = []
        open_tasks = self.fact("tasks.open")
        progress = self.fact("tasks.in_progress")
        blocked = [
            t
            for t in self.c.get("tasks", []) + self.c.get("delegated", [])
            if t["status"] == "blocked"
        ]
        for message in self.c.get("inbox", []):
            if message["type"] != "status_request":
                continue
            lines = [
                f"{open_tasks['statement']}; {progress['statement']}.",
                self.fact("prs.open")["statement"] + ".",
                self.fact("budget.today")["statement"] + ".",
            ]
            if blocked:
                lines.append(f"Blocked: {', '.join(t['id'] for t in blocked)}.")
            out.append(
                (
                    "send_message",
                    {
                        "to": message["sender"],
                        "kind": "status_response",
                        "correlation_id": message["id"],
                        "subject": f"Status of {self.me['id']}: "
                        + ("blocked work" if blocked else "on track"),
                        "body": " ".join(lines),
                        "cites": ["tasks.open", "tasks.in_progress", "prs.open", "budget.today"],
                    },
                )
            )
            self.notes.append(f"answered {message['sender']}'s status request")
        return out

    # -- governance ---------------------------------------------------------------------

    def votes(self) -> list[Call]:
        out: list[Call] = []
        for decision in self.c.get("decisions", []):
            role = decision.get("my_role")
            if role == "analysis":
                out.append(
                    (
                        "vote",
                        {
                            "decision": decision["id"],
                            "vote": "analysis",
                            "reason": self.analysis(decision),
                        },
                    )
                )
                self.notes.append(f"analysed {decision['id']}")
            elif role == "vote":
                if decision["stage"] == "lazy" and not self.objects(decision):
                    continue  # lazy consensus: silence lets it pass at the deadline
                vote, reason = self.judge(decision)
                out.append(("vote", {"decision": decision["id"], "vote": vote, "reason": reason}))
                self.notes.append(f"voted {vote} on {decision['id']}")
        return out

    def judge(self, d: dict[str, Any]) -> tuple[str, str]:
        amount, kind = float(d.get("amount_usd") or 0), self.me["type"]
        text = f"{d['title']} {d.get('description', '')}".lower()
        reports = {a["id"]: a.get("reports_to") for a in self.c.get("agents", [])}
        if kind == "ceo":
            if reports.get(d["proposed_by"]) == self.me["id"] and amount <= 5000:
                return (
                    "approve",
                    f"Backs the {d['proposed_by']} plan; ${amount:,.0f} is within what I "
                    "back for my reports (≤ $5,000).",
                )
            return (
                "veto",
                f"${amount:,.0f} from {d['proposed_by']} exceeds what I back "
                "without a wider review.",
            )
        if kind == "dao":
            if amount > 500:
                return (
                    "veto",
                    f"${amount:,.0f} of treasury spend above $500 needs a community vote first.",
                )
            return "approve", "Within the community's delegated limits."
        if kind == "cfo":
            if amount > 750:
                return (
                    "veto",
                    f"${amount:,.0f} exceeds the $750 left in this month's marketing plan.",
                )
            return "approve", f"${amount:,.0f} fits the budget."
        if kind == "coo":
            if amount <= 5000:
                return "approve", "Operationally feasible with current capacity."
            return "veto", "More than operations can absorb this quarter."
        if kind == "cto":
            if any(
                w in text
                for w in ("api", "infrastructure", "security", "code", "dependency", "technical")
            ):
                return "approve", "Technically sound."
            return "abstain", "Abstain: outside technology; no technical risk seen."
        if kind == "cco":
            if any(w in text for w in ("legal", "compliance", "policy", "regulat")):
                return "approve", "Compliant as proposed."
            return "abstain", "Abstain: no compliance question raised."
        return "abstain", "Abstain: outside my area."

    def objects(self, d: dict[str, Any]) -> bool:
        vote, _ = self.judge(d)
        return vote == "veto"

    def analysis(self, d: dict[str, Any]) -> str:
        vote, reason = self.judge(d)
        lean = {"approve": "supports", "veto": "opposes", "abstain": "is neutral on"}[vote]
        return f"{self.me['name']} {lean} {d['id']}: {reason} Votes so far: " + ", ".join(
            f"{a}={v or '—'}" for a, v in d.get("votes", {}).items()
        )

    # -- the CEO's status-query loop ----------------------------------------------------

    def ceo_status_loop(self) -> list[Call]:
        out: list[Call] = []
        round_state = self.state.get("status_round") or {}
        answers = [m for m in self.c.get("inbox", []) if m["type"] == "status_response"]
        due_round = [t for t in self.c.get("tasks", []) if t["title"].startswith("Status round")]
        clevel = [a["id"] for a in self.c.get("agents", []) if a["layer"] == "c-level"]
        if answers or (round_state and not due_round):
            got = {m["sender"]: m for m in answers}
            asked = round_state.get("asked", [])
            answered = sorted(set(round_state.get("answered", [])) | set(got))
            missing = [a for a in asked if a not in answered]
            problems = [m for m in answers if "blocked" in m["subject"].lower()]
            for message in problems:
                out.append(
                    (
                        "create_task",
                        {
                            "title": f"Unblock {message['sender']}'s work",
                            "description": f"Status response said: {message['body']}",
                            "assigned_to": message["sender"],
                            "priority": 2,
                        },
                    )
                )
            if answers:
                out.append(
                    (
                        "update_state",
                        {
                            "key": "status_round",
                            "value": {**round_state, "answered": answered, "missing": missing},
                        },
                    )
                )
                self.notes.append(
                    f"status round: {len(answered)}/{len(asked)} answered"
                    + (f", missing {', '.join(missing)}" if missing else "")
                    + (f", {len(problems)} problem(s) turned into tasks" if problems else "")
                )
        if due_round or not round_state:
            deadline = 30
            for agent in clevel:
                out.append(
                    (
                        "send_message",
                        {
                            "to": agent,
                            "kind": "status_request",
                            "subject": f"Status round of {self.now:%a %H:%M}",
                            "body": "Open tasks, blocked work, PRs, spend today. Cite your facts.",
                            "deadline_minutes": deadline,
                        },
                    )
                )
            out.append(
                (
                    "update_state",
                    {
                        "key": "status_round",
                        "value": {
                            "asked": clevel,
                            "at": self.now.isoformat(),
                            "answered": [],
                            "missing": clevel,
                        },
                    },
                )
            )
            for task in due_round:
                out.append(
                    (
                        "complete_task",
                        {
                            "task": task["id"],
                            "result": f"Status requested from {len(clevel)} C-level "
                            f"agents, answers due in {deadline} min.",
                        },
                    )
                )
            out.append(
                (
                    "schedule_event",
                    {
                        "at": (self.now + dt.timedelta(hours=4)).isoformat(),
                        "title": "Status round",
                        "description": "Ask every C-level agent for status and act on problems.",
                    },
                )
            )
            self.notes.append(f"asked {len(clevel)} C-level agents for status")
        return out

    # -- tasks --------------------------------------------------------------------------

    def tasks(self) -> list[Call]:
        out: list[Call] = []
        mine = [t for t in self.c.get("tasks", []) if not t["title"].startswith("Status round")]
        in_progress = sum(t["status"] == "in_progress" for t in mine)
        workers = self.c["permissions"].get("workers", [])
        is_worker = self.me["layer"] == "worker"
        for task in mine:
            if task["status"] == "pending" and not is_worker:
                if in_progress >= MAX_TASKS_IN_PROGRESS:
                    continue
                out.append(
                    (
                        "update_task",
                        {"task": task["id"], "status": "in_progress", "note": "Starting."},
                    )
                )
                in_progress += 1
                self.notes.append(f"started {task['id']}")
            elif task["status"] == "in_progress" or is_worker:
                if workers and not is_worker:
                    out.append(
                        (
                            "spawn_worker",
                            {
                                "kind": workers[0],
                                "task": task["id"],
                                "instructions": f"Do: {task['title']}. {task['description'][:300]}",
                            },
                        )
                    )
                    self.notes.append(f"handed {task['id']} to a {workers[0]}")
                    continue
                if is_worker:
                    out.append(self.draft(task))
                out.append(
                    (
                        "complete_task",
                        {"task": task["id"], "result": self.result(task), "cites": ["tasks.open"]},
                    )
                )
                self.notes.append(f"completed {task['id']}")
        for task in self.c.get("delegated", []):
            if task["id"] in self.blocked:
                continue
            if (
                task["assigned_to"] in workers
                and task["status"] == "pending"
                and not any(c[0] == "spawn_worker" and c[1]["task"] == task["id"] for c in out)
            ):
                out.append(
                    (
                        "spawn_worker",
                        {
                            "kind": task["assigned_to"],
                            "task": task["id"],
                            "instructions": f"{task['title']}: {task['description'][:300]}",
                        },
                    )
                )
                self.notes.append(f"spawned a {task['assigned_to']} for {task['id']}")
        return out

    def draft(self, task: dict[str, Any]) -> Call:
        name = _slug(task["title"])
        path = _path_in(self.c["permissions"]["paths"], f"{name}.md")
        body = (
            f"# {task['title']}\n\n{task['description']}\n\n"
            f"Draft by {self.me['name']} ({self.now:%Y-%m-%d %H:%M} UTC). "
            f"{self.rng.choice(CLOSINGS)}\n"
        )
        return (
            "open_pr",
            {
                "title": f"Draft: {task['title']}",
                "body": f"For task {task['id']}.",
                "files": {path: body},
            },
        )

    def result(self, task: dict[str, Any]) -> str:
        before = self.fact("tasks.open")["statement"]
        return f"{task['title']}: done by {self.me['id']}. {before} before this."

    def follow_ups(self) -> list[Call]:
        """An approved decision of mine becomes work: a task for my first worker kind."""
        out: list[Call] = []
        writers = self.c["permissions"].get("workers", [])
        delegated = {t["id"]: t for t in self.c.get("delegated", [])}
        for outcome in self.c.get("outcomes", []):
            task = delegated.get(outcome.get("ref") or "")
            if (
                outcome["kind"] == "worker_result"
                and task
                and "budget_exhausted" in outcome["summary"]
            ):
                out.append(
                    (
                        "update_task",
                        {
                            "task": task["id"],
                            "status": "blocked",
                            "note": "The worker's budget is exhausted for today.",
                        },
                    )
                )
                self.notes.append(f"marked {task['id']} blocked (worker out of budget)")
                self.blocked.add(task["id"])
                continue
            if outcome["kind"] != "decision_outcome" or "approved" not in outcome["summary"]:
                continue
            if writers:
                title = f"Announce {outcome['ref']}"[:190]
                out.append(
                    (
                        "create_task",
                        {
                            "title": title,
                            "description": f"Write the announcement: {outcome['summary']}",
                            "assigned_to": writers[0],
                            "priority": 3,
                        },
                    )
                )
                self.notes.append(f"turned approved {outcome['ref']} into work")
        return out

    # -- first-run proposals ------------------------------------------------------------

    def first_proposals(self) -> list[Call]:
        if self.state.get("offline.proposed") or self.me["layer"] != "c-level":
            return []
        kind = self.me["type"]
        out: list[Call] = []
        if kind == "cmo":
            out.append(
                (
                    "propose_decision",
                    {
                        "tier": "major",
                        "title": "Q1 community growth campaign",
                        "rationale": "A four-week campaign across our social channels with two "
                        "paid community partnerships, to grow weekly active holders. "
                        "Budget $900: $600 partnerships, $300 promoted posts.",
                        "amount_usd": 900,
                    },
                )
            )
            writers = self.c["permissions"].get("workers", [])
            if writers:
                out.append(
                    (
                        "create_task",
                        {
                            "title": "Draft the weekly community update",
                            "description": "Summarise this week's decisions and "
                            "releases for the community channels.",
                            "assigned_to": writers[0],
                            "priority": 4,
                        },
                    )
                )
        elif kind == "cto":
            out.append(
                (
                    "propose_decision",
                    {
                        "tier": "minor",
                        "title": "Weekly dependency update window",
                        "rationale": "Apply dependency and security updates every Tuesday in one "
                        "reviewed PR per repo, instead of ad hoc. No spend.",
                    },
                )
            )
        elif kind == "coo":
            out.append(
                (
                    "propose_initiative",
                    {
                        "title": "Publish a monthly operations report",
                        "rationale": "One page per month: tasks done, decisions, "
                        "spend, incidents; built from our own records.",
                        "score": 6.5,
                    },
                )
            )
        if out:
            out.append(("update_state", {"key": "offline.proposed", "value": True}))
            self.notes.append("made its first proposal")
        return out

    # -- helpers ------------------------------------------------------------------------

    def fact(self, fact_id: str) -> dict[str, Any]:
        return self.facts.get(fact_id) or {
            "id": fact_id,
            "statement": f"{fact_id} unknown",
            "value": None,
        }

    def summary(self, calls: list[Call]) -> str:
        if not self.notes:
            return "Nothing needed my action."
        return (f"{self.me['id']}: " + "; ".join(self.notes) + ".")[:3900]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")[:50] or "draft"


def _path_in(patterns: list[str], filename: str) -> str:
    """A path inside the first usable path filter (`content/**` → `content/<filename>`)."""
    for pattern in patterns:
        head = pattern.split("*", 1)[0]
        if head and not head.endswith("/"):
            continue
        return f"{head}{filename}"
    return filename

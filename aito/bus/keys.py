"""Every Redis key name AITO uses, in one place (the seed's key layout).

agent:status:{id}          hash: status, last_heartbeat, container_id, run_id (expires)
agents:registry            hash: agent id -> definition hash (who exists)
channel:broadcast          pub/sub nudge: a message for all agents
channel:head               pub/sub nudge: CEO + DAO
channel:clevel             pub/sub nudge: C-level agents
channel:agent:{id}         pub/sub nudge: one agent
stream:agent:{id}          an agent's durable inbox (stream, consumer group `aito`)
stream:agent:{id}:done     zset: message id -> when it was handled (ms); the consumer's
                           dedupe window, written with the acknowledgement
stream:dead-letters        entries no consumer could read (reason + raw data)
requests:deadlines         zset: `{request id}|{recipient}` -> response deadline (epoch s)
requests:pending           hash: same member -> the request's sender, recipient, deadline
queue:tasks:{id}           zset: an agent's queued tasks, by priority then due date
queue:urgent               zset: high-priority tasks any agent may claim (cross-department)
queue:inflight             zset: claimed task id -> visibility deadline (epoch s)
queue:task:{task id}       hash: one task's record (task, state, attempts, claim, result)
queue:claim:{token}        the task a claim token took (makes a retried claim idempotent)
ratelimit:claude:{id}      hash: model rate limit per agent (token buckets)
budget:{scope}:{period}    hash: model spend of `org` or `agent:{id}` in one UTC day
                           (`2026-11-21`) or month (`2026-11`): usd_spent, usd_reserved
                           (integer micro-dollars), tokens_spent, tokens_reserved
budget:reservations        zset: reservation id -> when it expires (epoch s) unless settled
budget:reservation:{id}    hash: one reservation (state, amounts, the period keys it holds)
lock:decision:{id}         a decision being processed
lock:container:{id}        an agent's container being started or stopped
wake:pending:{id}          a wake-up sent for the agent that has not started yet (value:
                           what woke it; expires after the agent's timeout)
gateway:call:{run}:{n}     set once when a launcher's gateway forwards call n of a run
orchestrator:restarts:{id} zset: the orchestrator's restarts of an agent (epoch s)
orchestrator:errors        hash: agent id -> since when it is `error` (restart budget spent)
orchestrator:generations   hash: agent id -> how often it recovered from error (names its steps)
orchestrator:lead          who leads: the CEO, or the DAO while it holds the temporary lead
orchestrator:done:{key}    a reconcile step that was applied (its key; kept 40 days)
orchestrator:claim:{key}   a step that must not run twice (a notification) was started
"""

from __future__ import annotations

PREFIX = ""  # tests and shared servers may namespace every key (see RedisBus(prefix=...))

AGENTS_REGISTRY = "agents:registry"
CHANNEL_BROADCAST = "channel:broadcast"
CHANNEL_HEAD = "channel:head"
CHANNEL_CLEVEL = "channel:clevel"
QUEUE_URGENT = "queue:urgent"
TASKS_INFLIGHT = "queue:inflight"
TASK_RECORD_PREFIX = "queue:task:"
DEAD_LETTERS = "stream:dead-letters"
REQUEST_DEADLINES = "requests:deadlines"
REQUESTS_PENDING = "requests:pending"

CONSUMER_GROUP = "aito"
"""The consumer group every agent stream is read through (one group per stream)."""


def agent_status(agent_id: str) -> str:
    return f"agent:status:{agent_id}"


def agent_channel(agent_id: str) -> str:
    return f"channel:agent:{agent_id}"


def agent_stream(agent_id: str) -> str:
    return f"stream:agent:{agent_id}"


def handled_messages(agent_id: str) -> str:
    return f"stream:agent:{agent_id}:done"


def task_queue(agent_id: str) -> str:
    return f"queue:tasks:{agent_id}"


def task_record(task_id: str) -> str:
    return TASK_RECORD_PREFIX + task_id


def task_claim(token: str) -> str:
    return f"queue:claim:{token}"


def rate_limit(agent_id: str) -> str:
    return f"ratelimit:claude:{agent_id}"


def decision_lock(decision_id: str) -> str:
    return f"lock:decision:{decision_id}"


def container_lock(agent_id: str) -> str:
    return f"lock:container:{agent_id}"


def wake_pending(agent_id: str) -> str:
    return f"wake:pending:{agent_id}"


def request_member(request_id: str, recipient: str) -> str:
    """A pending request in `requests:*` (agent ids never contain `|`)."""
    return f"{request_id}|{recipient}"


GROUP_CHANNELS = {"all": CHANNEL_BROADCAST, "head": CHANNEL_HEAD, "clevel": CHANNEL_CLEVEL}


def budget_period(scope: str, period_key: str) -> str:
    """Spend of ``scope`` (`org` or `agent:{id}`) in one period (`YYYY-MM-DD` or `YYYY-MM`)."""
    return f"budget:{scope}:{period_key}"


def budget_reservations() -> str:
    """Open model-spend reservations by expiry; expired ones give their amounts back."""
    return "budget:reservations"


def budget_reservation(reservation_id: str) -> str:
    return f"budget:reservation:{reservation_id}"


def gateway_call(run_id: str, index: int) -> str:
    """Set once when a launcher's model gateway forwards call ``index`` of a run: the
    same call index is never forwarded twice (its budget reservation would be reused)."""
    return f"gateway:call:{run_id}:{index}"


ORCHESTRATOR_ERRORS = "orchestrator:errors"
ORCHESTRATOR_LEAD = "orchestrator:lead"
ORCHESTRATOR_GENERATIONS = "orchestrator:generations"


def orchestrator_restarts(agent_id: str) -> str:
    return f"orchestrator:restarts:{agent_id}"


def orchestrator_done(step_key: str) -> str:
    return f"orchestrator:done:{step_key}"


def orchestrator_claim(step_key: str) -> str:
    return f"orchestrator:claim:{step_key}"

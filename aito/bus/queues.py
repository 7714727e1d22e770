"""Task queues: `queue:tasks:{agent}` and `queue:urgent`, claimed with a visibility timeout.

A queue is a sorted set of task ids ordered by priority (1 first), then due date
(earliest first, none last); each task's record lives in `queue:task:{id}`
(the :class:`~aito.bus.models.QueuedTask` as JSON, state, attempts, claim, result).
`queue:urgent` is shared across departments: any agent may claim from it, and
:meth:`TaskQueues.claim` looks there first.

Claiming moves a task to `queue:inflight` with a deadline; a worker that crashes or
stalls past it loses the task back to its queue (swept on every claim and by
:meth:`TaskQueues.requeue_expired`). Each claim counts as an attempt; after
``max_attempts`` the task is `dead` (dead-letter stream + a `task.dead` event).
Completion is accepted only from the current claim's token and records the result.
Every script checks before it changes anything, so a retried call (Redis restarted
mid-operation) does its work once: a claim retried with the same token returns
the task it already took.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from aito.bus import base, keys, models, redis_connection
from aito.bus import redis as adapter
from aito.errors import PermanentAdapterError

DEAD_LETTERS_MAXLEN = 10_000


class TaskQueues:
    """Enqueue, claim, extend, complete, release; records kept ``result_ttl_seconds``."""

    def __init__(
        self,
        bus: adapter.RedisBus,
        *,
        max_attempts: int = 5,
        result_ttl_seconds: int = 7 * 24 * 3600,
        sink: base.EventSink | None = None,
    ) -> None:
        self._conn = bus.connection
        self.max_attempts = max_attempts
        self.result_ttl = result_ttl_seconds
        self._sink = sink if sink is not None else base.NullSink()

    def _common(self, now: dt.datetime) -> tuple[list[str], list[Any]]:
        return (
            [self._conn.key(keys.TASKS_INFLIGHT), self._conn.key(keys.DEAD_LETTERS)],
            [
                self._conn.key(keys.TASK_RECORD_PREFIX),
                self.max_attempts,
                repr(models.epoch(now)),
                now.isoformat(),
                DEAD_LETTERS_MAXLEN,
            ],
        )

    def enqueue(self, task: models.QueuedTask, *, now: dt.datetime, urgent: bool = False) -> bool:
        """Queue ``task``; False if a task with its id is already known (idempotent)."""
        queue = keys.QUEUE_URGENT if urgent else keys.task_queue(task.agent)
        added = self._conn.run(
            lambda r: _ENQUEUE(
                r,
                keys=[self._conn.key(queue), self._conn.key(keys.task_record(task.task_id))],
                args=[task.task_id, repr(task.score()), task.model_dump_json(), now.isoformat()],
            ),
            op="enqueue task",
        )
        return int(added) == 1

    def claim(
        self,
        *,
        agent: str,
        worker: str,
        now: dt.datetime,
        visibility_seconds: float = 300.0,
        include_urgent: bool = True,
    ) -> models.ClaimedTask | None:
        """The most urgent task for ``agent`` (urgent queue first), held until
        ``now + visibility_seconds``; None when there is nothing to do."""
        token = secrets.token_hex(12)  # the same token across retries of this claim
        visible_until = now + dt.timedelta(seconds=visibility_seconds)
        queues = ([keys.QUEUE_URGENT] if include_urgent else []) + [keys.task_queue(agent)]
        common_keys, common_args = self._common(now)
        script_keys = [
            *common_keys,
            self._conn.key(keys.task_claim(token)),
            *(self._conn.key(q) for q in queues),
        ]
        args = [
            *common_args,
            worker,
            token,
            repr(models.epoch(visible_until)),
            max(1, int(visibility_seconds * 1000)),
        ]
        while True:
            reply: Any = self._conn.run(
                lambda r: _CLAIM(r, keys=script_keys, args=args), op="claim task"
            )
            self._report_dead([str(i) for i in reply[0]])
            if len(reply) == 1:
                return None
            task_id, raw, attempts = str(reply[1]), str(reply[2]), int(reply[3])
            try:
                task = models.QueuedTask.model_validate_json(raw)
            except ValidationError as exc:
                self._bury(task_id, token=token, reason=f"unreadable task: {exc}", now=now)
                continue
            return models.ClaimedTask(
                task=task, token=token, attempts=attempts, visible_until=visible_until
            )

    def extend(
        self, claimed: models.ClaimedTask, *, now: dt.datetime, visibility_seconds: float
    ) -> models.ClaimedTask | None:
        """Keep holding a task a while longer; None if the claim was already lost."""
        visible_until = now + dt.timedelta(seconds=visibility_seconds)
        record = self._conn.key(keys.task_record(claimed.task.task_id))
        inflight = self._conn.key(keys.TASKS_INFLIGHT)
        ok = self._conn.run(
            lambda r: _EXTEND(
                r,
                keys=[inflight, record],
                args=[claimed.task.task_id, claimed.token, repr(models.epoch(visible_until))],
            ),
            op="extend claim",
        )
        if int(ok) != 1:
            return None
        return claimed.model_copy(update={"visible_until": visible_until})

    def complete(
        self, claimed: models.ClaimedTask, *, result: Mapping[str, Any], now: dt.datetime
    ) -> bool:
        """Record the result; False if the claim was lost (the task went back to its queue)."""
        common_keys, common_args = self._common(now)
        record = self._conn.key(keys.task_record(claimed.task.task_id))
        payload = json.dumps(dict(result), default=str)
        ok = self._conn.run(
            lambda r: _COMPLETE(
                r,
                keys=[*common_keys, record],
                args=[*common_args, claimed.task.task_id, claimed.token, payload, self.result_ttl],
            ),
            op="complete task",
        )
        if int(ok) == 1:  # 2: a retried call, recorded before
            self._sink.append(
                "task.completed",
                {"task_id": claimed.task.task_id, "attempts": claimed.attempts},
                source_agent=claimed.task.agent,
            )
        return int(ok) in (1, 2)

    def release(
        self, claimed: models.ClaimedTask, *, error: str, now: dt.datetime
    ) -> models.TaskState | None:
        """Give a task back after a failure: queued again, or dead after ``max_attempts``.

        None if the claim was already lost.
        """
        state = self._requeue_one(claimed.task.task_id, token=claimed.token, reason=error, now=now)
        return None if state is None else models.TaskState(state)

    def requeue_expired(self, now: dt.datetime) -> list[str]:
        """Return every task whose claim expired to its queue (or bury it); the ids."""
        common_keys, common_args = self._common(now)
        reply: Any = self._conn.run(
            lambda r: _SWEEP(r, keys=common_keys, args=common_args), op="requeue tasks"
        )
        moved = [str(i) for i in reply[0]]
        self._report_dead([str(i) for i in reply[1]])
        return moved

    def record(self, task_id: str) -> models.TaskRecord | None:
        """Everything known about a task (None if unknown or expired)."""
        key = self._conn.key(keys.task_record(task_id))
        fields: Any = self._conn.run(lambda r: r.hgetall(key), op="read task")
        if not fields:
            return None
        try:
            return models.TaskRecord.model_validate(
                {
                    "task": json.loads(fields["task"]),
                    "state": fields["state"],
                    "attempts": int(fields.get("attempts", 0)),
                    "worker": fields.get("worker"),
                    "result": json.loads(fields["result"]) if "result" in fields else None,
                    "error": fields.get("error"),
                    "completed_at": fields.get("completed_at"),
                    "enqueued_at": fields.get("enqueued_at"),
                }
            )
        except (KeyError, ValueError) as exc:  # ValidationError is a ValueError
            raise PermanentAdapterError(
                redis_connection.SERVICE, f"the record of task {task_id!r} is unreadable: {exc}"
            ) from exc

    def queued(self, agent: str | None = None) -> list[str]:
        """Task ids waiting in ``agent``'s queue (the urgent queue for None), in claim order."""
        queue = self._conn.key(keys.QUEUE_URGENT if agent is None else keys.task_queue(agent))
        ids: Any = self._conn.run(lambda r: r.zrange(queue, 0, -1), op="read queue")
        return [str(i) for i in ids]

    def inflight(self) -> list[str]:
        """Task ids currently claimed (by any worker)."""
        inflight = self._conn.key(keys.TASKS_INFLIGHT)
        ids: Any = self._conn.run(lambda r: r.zrange(inflight, 0, -1), op="read claims")
        return [str(i) for i in ids]

    def _requeue_one(
        self, task_id: str, *, token: str, reason: str, now: dt.datetime
    ) -> str | None:
        common_keys, common_args = self._common(now)
        state = self._conn.run(
            lambda r: _RELEASE(
                r,
                keys=[*common_keys, self._conn.key(keys.task_record(task_id))],
                args=[*common_args, task_id, token, reason],
            ),
            op="release task",
        )
        if state == "lost":
            return None
        if state == "dead":
            self._report_dead([task_id])
        return str(state)

    def _bury(self, task_id: str, *, token: str, reason: str, now: dt.datetime) -> None:
        common_keys, common_args = self._common(now)
        self._conn.run(
            lambda r: _BURY(
                r,
                keys=[*common_keys, self._conn.key(keys.task_record(task_id))],
                args=[*common_args, task_id, token, reason],
            ),
            op="bury task",
        )
        self._report_dead([task_id])

    def _report_dead(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            self._sink.append("task.dead", {"task_id": task_id})


# Shared: KEYS[1] inflight, KEYS[2] dead letters; ARGV[1] record key prefix,
# ARGV[2] max attempts, ARGV[3] now (epoch s), ARGV[4] now (ISO), ARGV[5] maxlen.
REQUEUE_FUNCTION = """
local function bury(id, reason)
  local rec = ARGV[1] .. id
  redis.call('zrem', KEYS[1], id)
  local attempts = redis.call('hget', rec, 'attempts') or '0'
  redis.call('hset', rec, 'state', 'dead', 'error', reason)
  redis.call('hdel', rec, 'token', 'visible_until')
  redis.call('xadd', KEYS[2], 'maxlen', '~', ARGV[5], '*',
             'reason', 'task ' .. reason .. ' (attempt ' .. attempts .. ')',
             'source', redis.call('hget', rec, 'source') or '', 'source_entry_id', id,
             'consumer', redis.call('hget', rec, 'worker') or '',
             'raw', redis.call('hget', rec, 'task') or '', 'at', ARGV[4])
  return 'dead'
end
local function requeue(id, reason)
  local rec = ARGV[1] .. id
  redis.call('zrem', KEYS[1], id)
  local queue = redis.call('hget', rec, 'queue')
  if not queue then return 'gone' end
  local attempts = tonumber(redis.call('hget', rec, 'attempts') or '0')
  if attempts >= tonumber(ARGV[2]) then return bury(id, reason) end
  redis.call('hset', rec, 'state', 'queued', 'error', reason)
  redis.call('hdel', rec, 'token', 'visible_until')
  redis.call('zadd', queue, redis.call('hget', rec, 'score'), id)
  return 'queued'
end
local function sweep()
  local moved, dead = {}, {}
  local expired = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[3], 'limit', 0, 1000)
  for _, id in ipairs(expired) do
    if requeue(id, 'claim expired') == 'dead' then dead[#dead + 1] = id
    else moved[#moved + 1] = id end
  end
  return moved, dead
end
"""

# KEYS[1] queue, KEYS[2] record; ARGV task id, score, task JSON, now (ISO).
_ENQUEUE = redis_connection.Script("""
if redis.call('exists', KEYS[2]) == 1 then return 0 end
redis.call('hset', KEYS[2], 'task', ARGV[3], 'queue', KEYS[1], 'score', ARGV[2],
           'state', 'queued', 'attempts', 0, 'enqueued_at', ARGV[4], 'source', KEYS[1])
redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
return 1
""")

# KEYS[3] queue:claim:{token}, KEYS[4..] queues in order; ARGV[6] worker, [7] token,
# [8] visible until (epoch s), [9] visibility ms. Returns {dead ids} or
# {dead ids, task id, task JSON, attempts}.
_CLAIM = redis_connection.Script(
    REQUEUE_FUNCTION
    + """
local held = redis.call('get', KEYS[3])
if held and redis.call('hget', ARGV[1] .. held, 'token') == ARGV[7] then
  local rec = ARGV[1] .. held
  return {{}, held, redis.call('hget', rec, 'task'), redis.call('hget', rec, 'attempts')}
end
local _, dead = sweep()
for i = 4, #KEYS do
  while true do
    local top = redis.call('zrange', KEYS[i], 0, 0)
    if #top == 0 then break end
    local id = top[1]
    local rec = ARGV[1] .. id
    redis.call('zrem', KEYS[i], id)
    local task = redis.call('hget', rec, 'task')
    if task then
      local attempts = redis.call('hincrby', rec, 'attempts', 1)
      redis.call('hset', rec, 'state', 'claimed', 'worker', ARGV[6], 'token', ARGV[7],
                 'visible_until', ARGV[8])
      redis.call('zadd', KEYS[1], ARGV[8], id)
      redis.call('set', KEYS[3], id, 'px', ARGV[9])
      return {dead, id, task, attempts}
    end
  end
end
return {dead}
"""
)

# KEYS[1] inflight, KEYS[2] record; ARGV task id, token, new visible until.
_EXTEND = redis_connection.Script("""
if redis.call('hget', KEYS[2], 'token') ~= ARGV[2] then return 0 end
redis.call('hset', KEYS[2], 'visible_until', ARGV[3])
redis.call('zadd', KEYS[1], ARGV[3], ARGV[1])
return 1
""")

# KEYS[3] record; ARGV[6] task id, [7] token, [8] result JSON, [9] record TTL s.
# Returns 1 (recorded), 2 (already recorded by this claim: a retry) or 0 (claim lost).
_COMPLETE = redis_connection.Script("""
local rec = KEYS[3]
if redis.call('hget', rec, 'token') ~= ARGV[7] then
  if redis.call('hget', rec, 'done_token') == ARGV[7] then return 2 end
  return 0
end
redis.call('hset', rec, 'state', 'done', 'result', ARGV[8], 'completed_at', ARGV[4],
           'done_token', ARGV[7])
redis.call('hdel', rec, 'token', 'visible_until', 'error')
redis.call('zrem', KEYS[1], ARGV[6])
redis.call('expire', rec, ARGV[9])
return 1
""")

# KEYS[3] record; ARGV[6] task id, [7] token, [8] error.
_RELEASE = redis_connection.Script(
    REQUEUE_FUNCTION
    + """
if redis.call('hget', KEYS[3], 'token') ~= ARGV[7] then return 'lost' end
return requeue(ARGV[6], ARGV[8])
"""
)

# KEYS[3] record; ARGV[6] task id, [7] token, [8] reason.
_BURY = redis_connection.Script(
    REQUEUE_FUNCTION
    + """
if redis.call('hget', KEYS[3], 'token') ~= ARGV[7] then return 'lost' end
return bury(ARGV[6], ARGV[8])
"""
)

_SWEEP = redis_connection.Script(
    REQUEUE_FUNCTION
    + """
local moved, dead = sweep()
return {moved, dead}
"""
)

"""Worker requests: an agent's `spawn_worker`, queued until a worker runs it.

A request is a task in its worker kind's queue (`queue:tasks:{kind}`), named after the
requesting run and the action's position, so asking again (a run resumed after a crash)
queues nothing new. Whoever runs it claims that request by id: the requesting run itself
when it has a worker runtime and room under its `max_workers`, else the orchestrator.
A claim lasts the worker kind's timeout and a grace; a run resumed after its process
died takes its own claim back, any other runner that dies with one loses it back to the
queue when it lapses (the attempt counted). The next claim resumes the same worker run,
so nothing the worker did happens twice. A request nobody started within its TTL is
expired (dead), never run.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

from pydantic import Field, ValidationError

from aito.bus import keys, models, queues, redis_connection
from aito.org.common import Slug


class SpawnRequest(models.BusModel):
    """What a worker request carries (the queued task's payload)."""

    requester: Slug
    requester_run: str = Field(min_length=1, max_length=300)
    position: int = Field(ge=0)
    kind: Slug
    task: str = Field(min_length=1, max_length=200)
    instructions: str = Field(max_length=20_000)

    @property
    def request_id(self) -> str:
        return request_id(self.task, self.requester_run, self.position)


def request_id(task: str, requester_run: str, position: int) -> str:
    """A request's id: the same for the same action of the same run (at most 128 chars)."""
    run = "".join(c if c.isalnum() or c in "-_." else "-" for c in requester_run.lower())
    return f"{task[:60]}:{run[:60]}-{position}"


DEAD_SET = "queue:workers:dead"
"""Worker requests that died, until their requester is told."""


class WorkerQueue(queues.TaskQueues):
    """Ask for workers, claim a request by id, expire one; what waits and what runs."""

    def ask(self, request: SpawnRequest, *, now: dt.datetime) -> str:
        """Queue ``request`` (once); its id."""
        self.enqueue(
            models.QueuedTask(
                task_id=request.request_id,
                agent=request.kind,
                payload=request.model_dump(mode="json"),
            ),
            now=now,
        )
        return request.request_id

    def claim_request(
        self,
        request: str,
        *,
        worker: str,
        now: dt.datetime,
        visibility_seconds: float,
        resume: bool = False,
    ) -> models.ClaimedTask | None:
        """Take ``request`` if it is still queued; None when it is running, done, dead
        or unknown. ``resume``: a claim ``worker`` itself holds is taken over too (a run
        resumed after its process died: its lock says no other process runs it)."""
        token = secrets.token_hex(12)
        visible_until = now + dt.timedelta(seconds=visibility_seconds)
        common_keys, common_args = self._common(now)
        script_keys = [
            *common_keys,
            self._conn.key(keys.task_claim(token)),
            self._conn.key(keys.task_record(request)),
        ]
        args = [
            *common_args,
            worker,
            token,
            repr(models.epoch(visible_until)),
            max(1, int(visibility_seconds * 1000)),
            request,
            "1" if resume else "0",
        ]
        reply: Any = self._conn.run(
            lambda r: _CLAIM_ID(r, keys=script_keys, args=args), op="claim worker request"
        )
        self._report_dead([str(i) for i in reply[0]])
        if len(reply) == 1:
            return None
        try:
            task = models.QueuedTask.model_validate_json(str(reply[2]))
        except ValidationError as exc:
            self._bury(request, token=token, reason=f"unreadable request: {exc}", now=now)
            return None
        return models.ClaimedTask(
            task=task, token=token, attempts=int(reply[3]), visible_until=visible_until
        )

    def expire(self, request: str, *, reason: str, now: dt.datetime) -> bool:
        """Bury a request still waiting (its TTL passed); False if it started or ended."""
        common_keys, common_args = self._common(now)
        record = self._conn.key(keys.task_record(request))
        done = self._conn.run(
            lambda r: _EXPIRE(r, keys=[*common_keys, record], args=[*common_args, request, reason]),
            op="expire worker request",
        )
        if int(done) == 1:
            self._report_dead([request])
        return int(done) == 1

    def waiting(self, kinds: Iterable[str]) -> list[models.TaskRecord]:
        """The requests queued for these worker kinds, each kind's in claim order."""
        return [r for kind in sorted(set(kinds)) for r in self._records(self.queued(kind))]

    def running(self) -> list[models.TaskRecord]:
        """The worker requests claimed now (by a run or the orchestrator)."""
        return [r for r in self._records(self.inflight()) if spawn_request(r) is not None]

    def pending_for(self, asked: SpawnRequest) -> str | None:
        """Another request of the same requester for the same kind and task, waiting or
        running: its id (a second worker on one task is never started)."""
        for record in [*self._records(self.queued(asked.kind)), *self.running()]:
            other = spawn_request(record)
            if (
                other is not None
                and other.request_id != asked.request_id
                and (other.requester, other.kind, other.task)
                == (asked.requester, asked.kind, asked.task)
            ):
                return other.request_id
        return None

    def dead(self) -> list[models.TaskRecord]:
        """Worker requests that died (failed or lapsed too often) and whose requester has
        not been told yet."""
        key = self._conn.key(DEAD_SET)
        ids: Any = self._conn.run(lambda r: r.smembers(key), op="read dead worker requests")
        return self._records(sorted(str(i) for i in ids))

    def told(self, request: str) -> None:
        """The requester of a dead request has been told."""
        key = self._conn.key(DEAD_SET)
        self._conn.run(lambda r: r.srem(key, request), op="forget a dead worker request")

    def _report_dead(self, task_ids: list[str]) -> None:
        super()._report_dead(task_ids)
        if task_ids:  # remembered until its requester is told (the orchestrator does)
            key = self._conn.key(DEAD_SET)
            self._conn.run(lambda r: r.sadd(key, *task_ids), op="remember dead worker requests")

    def running_of(self, requester: str) -> int:
        """How many workers ``requester`` has running now."""
        return sum(
            1
            for record in self.running()
            if (asked := spawn_request(record)) is not None and asked.requester == requester
        )

    def _records(self, ids: Iterable[str]) -> list[models.TaskRecord]:
        found = []
        for task_id in ids:
            record = self.record(task_id)
            if record is not None:
                found.append(record)
        return found


def spawn_request(record: models.TaskRecord | models.QueuedTask) -> SpawnRequest | None:
    """The request a queued task carries; None for a task that is not a valid one (an
    unreadable request is expired by the orchestrator, never run)."""
    task = record.task if isinstance(record, models.TaskRecord) else record
    try:
        found = SpawnRequest.model_validate(task.payload)
    except ValidationError:
        return None
    return found if found.request_id == task.task_id and found.kind == task.agent else None


# KEYS[3] queue:claim:{token}, KEYS[4] the request's record; ARGV[6] worker, [7] token,
# [8] visible until (epoch s), [9] visibility ms, [10] request id, [11] "1": take over
# the worker's own claim. Returns {dead ids} or {dead ids, id, task JSON, attempts}.
_CLAIM_ID = redis_connection.Script(
    queues.REQUEUE_FUNCTION
    + """
if redis.call('get', KEYS[3]) and redis.call('hget', KEYS[4], 'token') == ARGV[7] then
  local rec = KEYS[4]
  return {{}, ARGV[10], redis.call('hget', rec, 'task'), redis.call('hget', rec, 'attempts')}
end
local _, dead = sweep()
local state = redis.call('hget', KEYS[4], 'state')
local own = state == 'claimed' and ARGV[11] == '1'
  and redis.call('hget', KEYS[4], 'worker') == ARGV[6]
if not own then
  if state ~= 'queued' then return {dead} end
  local queue = redis.call('hget', KEYS[4], 'queue')
  if not queue or redis.call('zrem', queue, ARGV[10]) == 0 then return {dead} end
end
local attempts = redis.call('hincrby', KEYS[4], 'attempts', 1)
redis.call('hset', KEYS[4], 'state', 'claimed', 'worker', ARGV[6], 'token', ARGV[7],
           'visible_until', ARGV[8])
redis.call('zadd', KEYS[1], ARGV[8], ARGV[10])
redis.call('set', KEYS[3], ARGV[10], 'px', ARGV[9])
return {dead, ARGV[10], redis.call('hget', KEYS[4], 'task'), attempts}
"""
)

# KEYS[3] the request's record; ARGV[6] request id, [7] reason. 1: expired, 0: not waiting.
_EXPIRE = redis_connection.Script(
    queues.REQUEUE_FUNCTION
    + """
if redis.call('hget', KEYS[3], 'state') ~= 'queued' then return 0 end
local queue = redis.call('hget', KEYS[3], 'queue')
if queue then redis.call('zrem', queue, ARGV[6]) end
bury(ARGV[6], ARGV[7])
return 1
"""
)

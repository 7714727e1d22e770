"""Sending messages: direct and group fan-out, requests with deadlines, responses, timeouts.

Every message lands in each recipient's stream `stream:agent:{id}` (the durable
copy, read through the consumer group by :mod:`aito.bus.consuming`); a pub/sub
nudge on `channel:agent:{id}` or the group's channel tells live listeners, and is
never the only copy. Group membership (`all`, `head`, `clevel` → agent ids) comes
from the org as plain data; the sender never receives its own group message.

Each recipient is also woken through the bus's waker (:mod:`aito.bus.waking`: on GitHub a
repository_dispatch, at most one pending per agent).

A message with ``requires_response`` and a ``response_deadline`` is recorded per
recipient in `requests:*`; the recipient's answer (any message whose
``correlation_id`` is the request id) clears it, and :meth:`Messenger.expire_requests`
turns the ones still open at their deadline into a `response_timeout` alert in the
sender's stream (exactly once, even when several processes sweep).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from aito.bus import base, deadlines, keys, models, redis_connection
from aito.bus import redis as adapter
from aito.errors import TemporaryAdapterError
from aito.org.messages import AgentMessage, MessageType

CLOCK_SKEW_SECONDS = 30
"""How far this host's clock may be ahead of Redis's (for a retried send's look-back)."""
RETRY_SCAN = 10_000
"""At most this many entries are looked at per stream when a send is retried."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Messenger:
    """Sends messages, asks and answers; ``groups`` maps `all`/`head`/`clevel` to agent ids."""

    def __init__(
        self,
        bus: adapter.RedisBus,
        *,
        groups: Mapping[str, Collection[str]] | None = None,
        sink: base.EventSink | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self._conn = bus.connection
        self._bus = bus
        self._groups = {name: sorted(set(ids)) for name, ids in (groups or {}).items()}
        self._sink = sink if sink is not None else base.NullSink()
        self._clock = clock

    def recipients(self, message: AgentMessage) -> list[str]:
        """Who gets a copy: the one agent, or the group's members except the sender."""
        if not message.is_group:
            return [message.to]
        if message.to not in self._groups:
            raise ValueError(
                f"no members known for group {message.to!r}; pass groups= from the org"
            )
        return [agent for agent in self._groups[message.to] if agent != message.from_]

    def listen(self, agent_id: str) -> redis_connection.Subscription:
        """Live nudges for ``agent_id``: its own channel and its groups' channels.

        A nudge carries a message id; the message itself is in the agent's stream.
        """
        channels = [keys.agent_channel(agent_id)] + [
            keys.GROUP_CHANNELS[group]
            for group, members in sorted(self._groups.items())
            if group in keys.GROUP_CHANNELS and agent_id in members
        ]
        return self._conn.subscribe(channels)

    def send(self, message: AgentMessage) -> list[str]:
        """Deliver one message (fanned out for a group); returns the recipients."""
        return self.send_many([message])[message.id]

    def send_many(self, messages: Sequence[AgentMessage]) -> dict[str, list[str]]:
        """Deliver a batch atomically in one round trip (one script: one command to send
        and one reply to read, however many messages); returns each message id's recipients.

        Safe to retry: when an attempt failed without an answer (Redis went away
        mid-call), the next one first looks at what each stream got since shortly
        before the first attempt and drops what already arrived, so a retried send
        does not append a message twice. Consumers handle each id once in any case.
        """
        plan = [(message, self.recipients(message)) for message in messages]
        if not plan:
            return {}
        inboxes: dict[str, list[tuple[str, str]]] = {}  # agent -> [(message id, JSON)]
        requests: dict[str, tuple[float, str]] = {}  # member -> (deadline, record JSON)
        answered: list[str] = []
        nudges: dict[str, str] = {}
        for message, recipients in plan:
            wire = message.to_wire()
            for agent in recipients:
                inboxes.setdefault(agent, []).append((message.id, wire))
                if message.requires_response and message.response_deadline is not None:
                    member, deadline, record = _request_record(message, agent)
                    requests[member] = (deadline, record)
            if message.correlation_id is not None:
                answered.append(keys.request_member(message.correlation_id, message.from_))
            channel = (
                keys.GROUP_CHANNELS[message.to]
                if message.is_group
                else keys.agent_channel(message.to)
            )
            nudges[channel] = message.id
        attempts, started = 0, time.time()  # Redis's clock, not the injected one
        answered_once = sorted(set(answered))

        def send(client: redis_connection.Client) -> None:
            nonlocal attempts
            attempts += 1
            todo = inboxes if attempts == 1 else self._not_yet_sent(client, inboxes, since=started)
            streams_keys = [self._conn.key(keys.agent_stream(agent)) for agent in todo]
            args: list[Any] = [base.ID_FIELD, base.MESSAGE_FIELD, len(todo)]
            args += [len(entries) for entries in todo.values()]
            for entries in todo.values():
                for entry in entries:
                    args += entry
            args.append(len(requests))
            for member, (deadline, record) in requests.items():
                args += (member, repr(deadline), record)
            args.append(len(answered_once))
            args += answered_once
            for channel, message_id in nudges.items():
                args += (self._conn.key(channel), message_id)
            bookkeeping = [
                self._conn.key(keys.REQUEST_DEADLINES),
                self._conn.key(keys.REQUESTS_PENDING),
            ]
            _SEND(client, keys=[*streams_keys, *bookkeeping], args=args)

        self._conn.run(send, op="send messages")
        for message, recipients in plan:  # on GitHub: a repository_dispatch per agent
            self._bus.waker.wake(
                recipients, reason=message.type.value, source=message.id, sender=message.from_
            )
        return {message.id: recipients for message, recipients in plan}

    def _not_yet_sent(
        self,
        client: redis_connection.Client,
        inboxes: Mapping[str, list[tuple[str, str]]],
        *,
        since: float,
    ) -> dict[str, list[tuple[str, str]]]:
        """``inboxes`` without what each stream got since the first attempt (a retry)."""
        start_ms = int((since - CLOCK_SKEW_SECONDS) * 1000)
        agents = list(inboxes)
        with client.pipeline(transaction=False) as pipe:
            for agent in agents:
                pipe.xrange(self._conn.key(keys.agent_stream(agent)), start_ms, "+", RETRY_SCAN)
            found = pipe.execute()
        todo: dict[str, list[tuple[str, str]]] = {}
        for agent, entries in zip(agents, found, strict=True):
            arrived = {(fields or {}).get(base.ID_FIELD) for _, fields in entries}
            fresh = [entry for entry in inboxes[agent] if entry[0] not in arrived]
            if fresh:
                todo[agent] = fresh
        return todo

    def request(
        self,
        *,
        sender: str,
        to: str,
        payload: Mapping[str, Any],
        deadline: dt.datetime,
        request_id: str | None = None,
        type: MessageType = MessageType.STATUS_REQUEST,
    ) -> AgentMessage | None:
        """Ask ``to`` and wait until ``deadline`` for the answer; None if none came in time.

        An answer arriving later is not returned (it still lands in the sender's
        stream), and :meth:`expire_requests` reports the miss as a timeout.
        """
        answers = self.request_all(
            sender=sender,
            recipients=[to],
            payload=payload,
            deadline=deadline,
            request_id=request_id,
            type=type,
        )
        return answers[to]

    def request_all(
        self,
        *,
        sender: str,
        recipients: Sequence[str],
        payload: Mapping[str, Any],
        deadline: dt.datetime,
        request_id: str | None = None,
        type: MessageType = MessageType.STATUS_REQUEST,
    ) -> dict[str, AgentMessage | None]:
        """Ask each recipient (one request each) and gather the answers until ``deadline``.

        The CEO's status loop: ``request_all(sender="ceo", recipients=c_levels, ...)``.
        Request ids are ``{request_id}:{agent}`` (just ``request_id`` for one recipient).
        """
        base_id = request_id or f"req-{uuid.uuid4().hex}"
        now = self._clock()
        requests = {
            agent: AgentMessage.model_validate(
                {
                    "id": base_id if len(recipients) == 1 else base.derived_id(base_id, agent),
                    "type": type,
                    "from": sender,
                    "to": agent,
                    "payload": dict(payload),
                    "timestamp": now,
                    "requires_response": True,
                    "response_deadline": deadline,
                }
            )
            for agent in recipients
        }
        inbox = self._conn.key(keys.agent_stream(sender))
        newest: Any = self._conn.run(lambda r: r.xrevrange(inbox, count=1), op="read inbox")
        cursor = str(newest[0][0]) if newest else "0-0"
        self.send_many(list(requests.values()))
        wanted = {message.id: agent for agent, message in requests.items()}
        answers = self._await_answers(inbox=inbox, cursor=cursor, wanted=wanted, deadline=deadline)
        return {agent: answers.get(agent) for agent in recipients}

    def _await_answers(
        self, *, inbox: str, cursor: str, wanted: dict[str, str], deadline: dt.datetime
    ) -> dict[str, AgentMessage]:
        # Reads the sender's stream without its consumer group: nothing is claimed or
        # acknowledged here, the agent's own consumer still sees every answer.
        answers: dict[str, AgentMessage] = {}
        while wanted:
            remaining = (deadline - self._clock()).total_seconds()
            if remaining <= 0:
                break
            block_ms = max(1, int(min(remaining, 1.0) * 1000))
            try:
                reply = self._read_after(inbox, cursor, block_ms)
            except TemporaryAdapterError:
                time.sleep(min(0.05, max(remaining, 0.0)))
                continue
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    cursor = str(entry_id)
                    answer = _parse(fields)
                    if (
                        answer is not None
                        and answer.correlation_id in wanted
                        and answer.type is not MessageType.ALERT
                        and answer.from_ == wanted[answer.correlation_id]
                    ):
                        answers[wanted.pop(answer.correlation_id)] = answer
        return answers

    def _read_after(self, stream: str, cursor: str, block_ms: int) -> Any:
        return self._conn.run(
            lambda r: r.xread({stream: cursor}, count=100, block=block_ms),
            op="await answers",
            retry=False,
        )

    def reply(
        self,
        request: AgentMessage,
        *,
        responder: str,
        payload: Mapping[str, Any],
        type: MessageType = MessageType.STATUS_RESPONSE,
    ) -> AgentMessage:
        """Answer ``request`` as ``responder`` (its id is derived: replying twice is one reply)."""
        answer = AgentMessage.model_validate(
            {
                "id": base.derived_id(request.id, "re", responder),
                "type": type,
                "from": responder,
                "to": request.from_,
                "payload": dict(payload),
                "priority": request.priority,
                "timestamp": self._clock(),
                "correlation_id": request.id,
            }
        )
        self.send(answer)
        return answer

    def open_requests(self) -> list[models.RequestTimeout]:
        """Requests still waiting for an answer (with their deadlines)."""
        return deadlines.open_requests(self._conn)

    def expire_requests(self, now: dt.datetime) -> list[models.RequestTimeout]:
        """Turn every unanswered request past its deadline into a timeout; idempotent.

        See :func:`aito.bus.deadlines.expire`: each miss becomes one `alert` in the
        sender's stream and one `bus.response_timeout` event, across all sweepers.
        """
        return deadlines.expire(self._conn, now=now, sink=self._sink)


def _request_record(message: AgentMessage, agent: str) -> tuple[str, float, str]:
    """(member, deadline, JSON) of a request waiting for ``agent``'s answer."""
    assert message.response_deadline is not None
    record = models.RequestTimeout(
        request_id=message.id,
        sender=message.from_,
        recipient=agent,
        deadline=message.response_deadline,
    )
    member = keys.request_member(message.id, agent)
    return member, models.epoch(message.response_deadline), record.model_dump_json()


def _parse(fields: Mapping[str, str] | None) -> AgentMessage | None:
    try:
        return AgentMessage.from_wire((fields or {})[base.MESSAGE_FIELD])
    except (KeyError, ValueError):
        return None


# KEYS[1..n] the recipients' streams, [n+1] request deadlines, [n+2] pending requests.
# ARGV[1] id field, [2] message field, [3] n, then each stream's entry count, then each
# stream's entries as (message id, JSON) pairs; then the request count and (member,
# deadline, record) triples; the answered count and members; then (channel, message
# id) nudges to publish. All of it at once, like MULTI/EXEC, in one command.
_SEND = redis_connection.Script("""
local n = tonumber(ARGV[3])
local i = 4 + n
for s = 1, n do
  for _ = 1, tonumber(ARGV[3 + s]) do
    redis.call('xadd', KEYS[s], '*', ARGV[1], ARGV[i], ARGV[2], ARGV[i + 1])
    i = i + 2
  end
end
for _ = 1, tonumber(ARGV[i]) do
  redis.call('zadd', KEYS[n + 1], ARGV[i + 2], ARGV[i + 1])
  redis.call('hset', KEYS[n + 2], ARGV[i + 1], ARGV[i + 3])
  i = i + 3
end
i = i + 1
for _ = 1, tonumber(ARGV[i]) do
  redis.call('zrem', KEYS[n + 1], ARGV[i + 1])
  redis.call('hdel', KEYS[n + 2], ARGV[i + 1])
  i = i + 1
end
i = i + 1
while i < #ARGV do
  redis.call('publish', ARGV[i], ARGV[i + 1])
  i = i + 2
end
return 1
""")

"""The Redis connection: the only module that imports redis-py.

:class:`Connection` is the thin wrapper every bus module talks through: it owns the
redis-py client, reconnects when the server's URL changes (an embedded Redis
restarted on a new port), runs Lua scripts by SHA, and translates redis-py's errors
into ours at this boundary — connection losses, timeouts and ``LOADING`` into
:class:`TemporaryAdapterError` (retried with backoff by :mod:`aito.retrying`),
everything else into :class:`PermanentAdapterError`. :class:`Script` is a Lua script
run by SHA, :class:`Subscription` a pub/sub listener. The functions the bus modules
pass to :meth:`Connection.run` get the redis-py client (:data:`Client`); the few that
expect an error reply catch :data:`ResponseError` from here, so no other module
imports redis-py.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, TypeVar

import redis
import redis.backoff
import redis.client
import redis.exceptions
import redis.retry

from aito import retrying
from aito.errors import ConfigError, PermanentAdapterError, TemporaryAdapterError

SERVICE = "redis"
Client: TypeAlias = "redis.Redis"
Pipeline: TypeAlias = "redis.client.Pipeline"
ResponseError = redis.ResponseError
"""An error reply from the server (e.g. no such key), for functions run by `Connection.run`."""
T = TypeVar("T")

# Replies that mean "the server is there but not ready yet": worth a retry.
_TEMPORARY_REPLIES = ("LOADING", "READONLY", "TRYAGAIN", "MASTERDOWN", "BUSY ")


class Script:
    """A Lua script run by SHA; loaded on first use and again after a restart."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, client: Client, *, keys: Sequence[str], args: Sequence[Any] = ()) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe: Pipeline, *, keys: Sequence[str], args: Sequence[Any] = ()) -> None:
        """Add a run to a pipeline (with its source: nothing to load first, even after a
        restart; the server compiles it once and keeps it by its SHA)."""
        pipe.eval(self.source, len(keys), *keys, *args)


class Subscription:
    """Live pub/sub notifications (a nudge only: the streams hold the messages)."""

    def __init__(self, pubsub: redis.client.PubSub, prefix: str) -> None:
        self._pubsub = pubsub
        self._prefix = prefix

    def get(self, *, timeout: float) -> tuple[str, str] | None:
        """The next ``(channel, data)`` within ``timeout`` seconds, or None."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                found = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                raise TemporaryAdapterError(
                    SERVICE, f"pub/sub lost ({exc})", retry_after=0.1
                ) from exc
            if found and found.get("type") == "message":
                return str(found["channel"]).removeprefix(self._prefix), str(found["data"])
            if remaining <= 0:
                return None

    def close(self) -> None:
        self._pubsub.close()


class Connection:
    """One redis-py client, errors translated, retries and reconnection included.

    ``url`` is a URL or a function returning the current one; it is asked again
    after a connection failure, so a server that came back on a new port is found.
    """

    def __init__(
        self,
        *,
        url: str | Callable[[], str],
        prefix: str = "",
        policy: retrying.Policy | None = None,
        socket_timeout: float = 10.0,
    ) -> None:
        self._source = url
        self.prefix = prefix
        self.policy = policy if policy is not None else retrying.Policy()
        self._socket_timeout = socket_timeout
        self._url = url() if callable(url) else url
        self._client = self._connect(self._url)
        self._stale = False

    def _connect(self, url: str) -> Client:
        try:
            return redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=5,
                socket_timeout=self._socket_timeout,
                # Retries are ours (aito.retrying): one place, one budget, visible errors.
                retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
            )
        except ValueError as exc:  # the URL itself (never echoed: it may hold a password)
            raise ConfigError(f"the Redis URL is not usable: {str(exc)[:100]}") from exc

    def key(self, name: str) -> str:
        return self.prefix + name

    def strip(self, key: str) -> str:
        return key.removeprefix(self.prefix)

    def run(self, fn: Callable[[Client], T], *, op: str, retry: bool = True) -> T:
        """``fn(client)`` with errors translated; retried per the policy unless ``retry=False``.

        Retried operations must be safe to repeat: every bus write is (message ids are
        deduplicated by the consumer, scripts check before they change anything).
        """
        if not retry:
            return self._once(fn, op)
        return retrying.call(lambda: self._once(fn, op), policy=self.policy, what=op)

    def _once(self, fn: Callable[[Client], T], op: str) -> T:
        client = self._current()
        try:
            return fn(client)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._stale = True
            raise TemporaryAdapterError(
                SERVICE,
                f"{op}: cannot reach Redis ({exc}); `aito services status` tells",
                retry_after=0.0,
            ) from exc
        except redis.ResponseError as exc:
            if str(exc).startswith(_TEMPORARY_REPLIES):
                raise TemporaryAdapterError(SERVICE, f"{op}: {exc}", retry_after=0.1) from exc
            raise PermanentAdapterError(SERVICE, f"{op}: {exc}") from exc
        except redis.RedisError as exc:
            raise PermanentAdapterError(SERVICE, f"{op}: {exc}") from exc

    def _current(self) -> Client:
        if self._stale and callable(self._source):
            url = self._source()
            if url != self._url:
                self._client.close()
                self._url, self._client = url, self._connect(url)
            self._stale = False
        return self._client

    def transaction(self, build: Callable[[Pipeline], None], *, op: str) -> list[Any]:
        """Commands queued by ``build`` run as one MULTI/EXEC (one round trip), retried."""

        def execute(client: Client) -> list[Any]:
            with client.pipeline(transaction=True) as pipe:
                build(pipe)
                return list(pipe.execute())

        return self.run(execute, op=op)

    def batch(self, build: Callable[[Pipeline], None], *, op: str) -> list[Any]:
        """Commands queued by ``build`` in one round trip, not atomic; retried."""

        def execute(client: Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                build(pipe)
                return list(pipe.execute())

        return self.run(execute, op=op)

    def subscribe(self, channels: Sequence[str]) -> Subscription:
        """Listen on ``channels`` (names from `keys`, unprefixed)."""

        def open_pubsub(client: Client) -> redis.client.PubSub:
            pubsub: redis.client.PubSub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(*(self.key(c) for c in channels))
            return pubsub

        return Subscription(self.run(open_pubsub, op="subscribe"), self.prefix)

    def close(self) -> None:
        self._client.close()

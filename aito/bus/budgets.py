"""Hard model-spend budgets: reserve before a model call, settle after, shared by all processes.

Every limit in `org/` (an agent's ``budget.daily_usd``, ``monthly_usd`` and
``daily_tokens``; the organization's ``budget.daily_usd`` and ``monthly_usd``) is a
:class:`Limit` on one *scope* (``org`` or ``agent:{id}``) in one UTC *period* (a day
``2026-11-21`` or a month ``2026-11``). Before a model call the caller reserves its
estimated cost on every limit that applies, in one Lua script
(:mod:`aito.bus.budget_scripts` holds them all): spent + reserved +
asked must stay within each limit, and the amount is reserved on all of them or on
none (:class:`Refusal` says which limit stopped it and why). After the call the
reservation is settled with the real cost (which may exceed the estimate: it is
recorded as is), or released when no call was made.

A process that dies between reserving and settling does not hold budget forever:
each reservation expires ``ttl_seconds`` after it was made and the next ``reserve``
(or :meth:`BudgetLedger.expire`) gives it back. Reserving, settling and releasing are
idempotent per reservation id, so the adapter's retries after a lost reply are safe.

Money is kept as integer micro-dollars in Redis (no float drift). Postgres'
``model_usage`` table is the durable record: when Redis lost its data, :meth:`seed`
rebuilds a period from it; seed a period before the first reservation touches it
(once a key exists, seeding is a no-op).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from aito.bus import budget_scripts, keys
from aito.bus import redis as adapter
from aito.org import loading

ORG_SCOPE = "org"
MICRO = 1_000_000
"""Micro-dollars per dollar (the unit of money inside Redis)."""

Period = Literal["day", "month"]

_PERIOD_KEY = {"day": re.compile(r"^\d{4}-\d{2}-\d{2}$"), "month": re.compile(r"^\d{4}-\d{2}$")}
# How long a period's spend stays in Redis after its last change (real time): long
# enough to cover the period and late settlements; Postgres keeps the history.
_PERIOD_TTL = {"day": 40 * 86400, "month": 400 * 86400}
# How long a settled, released or expired reservation is remembered (repeat = no-op).
_TOMBSTONE_SECONDS = 7 * 86400


class BudgetModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(BudgetModel):
    """At most ``usd`` and/or ``tokens`` for ``scope`` in one ``period`` (None: no limit)."""

    scope: str = Field(pattern=r"^(org|agent:[a-z0-9][a-z0-9-]{0,62})$")
    period: Period
    usd: float | None = Field(None, ge=0)
    tokens: int | None = Field(None, ge=0)


class Reservation(BudgetModel):
    """Budget held for one model call until it is settled, released or expires."""

    id: str = Field(min_length=1, max_length=200)
    periods: tuple[tuple[str, str], ...] = Field(
        description="(scope, period key) of every period the amount is held on"
    )
    usd: float
    tokens: int
    expires_at: AwareDatetime

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(scope for scope, _ in self.periods))


class Refusal(BudgetModel):
    """The limit a reservation would have broken (nothing was reserved anywhere)."""

    scope: str
    period: Period
    period_key: str
    unit: Literal["usd", "tokens"]
    limit: float
    spent: float
    reserved: float
    asked: float

    @property
    def reason(self) -> str:
        """E.g. ``agent cmo daily budget: $5.98 spent + $0.03 reserved + $0.05 asked > $6.00``."""
        who = "org" if self.scope == ORG_SCOPE else self.scope.replace(":", " ", 1)
        when = "daily" if self.period == "day" else "monthly"
        if self.unit == "usd":
            return (
                f"{who} {when} budget: {money(self.spent)} spent + {money(self.reserved)} "
                f"reserved + {money(self.asked)} asked > {money(self.limit)}"
            )
        return (
            f"{who} {when} token budget: {self.spent:,.0f} spent + {self.reserved:,.0f} "
            f"reserved + {self.asked:,.0f} asked > {self.limit:,.0f} tokens"
        )


class BudgetLedger:
    """Spend and reservations per scope and period, in Redis, atomic across processes."""

    def __init__(self, bus: adapter.RedisBus) -> None:
        self._conn = bus.connection

    def reserve(
        self,
        *,
        reservation_id: str,
        limits: Sequence[Limit],
        usd: float,
        tokens: int,
        now: dt.datetime,
        ttl_seconds: float = 900,
    ) -> Reservation | Refusal:
        """Hold ``usd`` and ``tokens`` on every limit's period, or on none if one would break.

        Expired reservations are given back first. Reserving an id again returns the
        first reservation and holds nothing more.
        """
        if usd < 0 or tokens < 0:
            raise ValueError("usd and tokens must be >= 0")
        periods = list(dict.fromkeys((lim.scope, lim.period) for lim in limits))
        refs = tuple((scope, period_key(period, now)) for scope, period in periods)
        period_keys = [self._conn.key(keys.budget_period(s, k)) for s, k in refs]
        expires_at = now + dt.timedelta(seconds=ttl_seconds)
        args: list[Any] = [
            reservation_id,
            repr(now.timestamp()),
            repr(expires_at.timestamp()),
            _micro(usd),
            tokens,
            self._conn.key(keys.budget_reservation("")),
            _TOMBSTONE_SECONDS,
            len(limits),
        ]
        for lim in limits:
            args += [
                3 + periods.index((lim.scope, lim.period)),
                -1 if lim.usd is None else _micro(lim.usd),
                -1 if lim.tokens is None else lim.tokens,
            ]
        args += [_PERIOD_TTL[period] for _, period in periods]
        args.append("\n".join(f"{scope}|{key}" for scope, key in refs))
        script_keys = [
            self._conn.key(keys.budget_reservations()),
            self._conn.key(keys.budget_reservation(reservation_id)),
            *period_keys,
        ]
        reply: Any = self._conn.run(
            lambda r: budget_scripts.RESERVE(r, keys=script_keys, args=args), op="reserve budget"
        )
        if reply[0] == "0":
            lim = limits[int(reply[1])]
            unit: Literal["usd", "tokens"] = "usd" if reply[2] == "usd" else "tokens"
            scale = MICRO if unit == "usd" else 1
            limit = lim.usd if unit == "usd" else lim.tokens
            return Refusal(
                scope=lim.scope,
                period=lim.period,
                period_key=period_key(lim.period, now),
                unit=unit,
                limit=float(limit or 0),
                spent=int(reply[3]) / scale,
                reserved=int(reply[4]) / scale,
                asked=float(usd if unit == "usd" else tokens),
            )
        if reply[0] == "2":  # reserved before under this id: that reservation stands
            return Reservation(
                id=reservation_id,
                periods=_decode_periods(str(reply[4] or "")),
                usd=int(reply[1]) / MICRO,
                tokens=int(reply[2]),
                expires_at=dt.datetime.fromtimestamp(float(reply[3]), dt.UTC),
            )
        return Reservation(
            id=reservation_id, periods=refs, usd=usd, tokens=tokens, expires_at=expires_at
        )

    def settle(self, reservation: Reservation, *, usd: float, tokens: int) -> None:
        """Turn the reservation into the call's real spend (once; a repeat is a no-op).

        The real cost may exceed what was reserved; it is recorded as is. A
        reservation that already expired still has its spend recorded.
        """
        if usd < 0 or tokens < 0:
            raise ValueError("usd and tokens must be >= 0")
        script_keys = self._reservation_keys(reservation)
        args: list[Any] = [reservation.id, _micro(usd), tokens, _TOMBSTONE_SECONDS]
        args += [_PERIOD_TTL[_period_of(k)] for _, k in reservation.periods]
        self._conn.run(
            lambda r: budget_scripts.SETTLE(r, keys=script_keys, args=args), op="settle budget"
        )

    def settle_once(self, reservation_id: str, *, usd: float, tokens: int) -> bool:
        """Settle a reservation known only by its id (a run recovering after a crash).

        Records the spend on the periods the reservation held, once: a settled or
        released reservation is left alone, and so is one Redis does not know (it
        lost its data: the periods are seeded again from Postgres, which already
        counts this call). True if the spend was recorded now.
        """
        if usd < 0 or tokens < 0:
            raise ValueError("usd and tokens must be >= 0")
        script_keys = [
            self._conn.key(keys.budget_reservations()),
            self._conn.key(keys.budget_reservation(reservation_id)),
        ]
        args: list[Any] = [reservation_id, _micro(usd), tokens, _TOMBSTONE_SECONDS]
        args += [_PERIOD_TTL["day"], _PERIOD_TTL["month"]]
        done = self._conn.run(
            lambda r: budget_scripts.SETTLE_ONCE(r, keys=script_keys, args=args), op="settle budget"
        )
        return int(done) == 1

    def release(self, reservation: Reservation) -> bool:
        """Give the reservation back unspent (no call was made); False if it no longer held."""
        script_keys = self._reservation_keys(reservation)[:2]
        args = [reservation.id, _TOMBSTONE_SECONDS]
        released = self._conn.run(
            lambda r: budget_scripts.RELEASE(r, keys=script_keys, args=args), op="release budget"
        )
        return int(released) == 1

    def expire(self, *, now: dt.datetime) -> int:
        """Give back every reservation expired at ``now``; returns how many."""
        script_keys = [self._conn.key(keys.budget_reservations())]
        args = [
            repr(now.timestamp()),
            self._conn.key(keys.budget_reservation("")),
            _TOMBSTONE_SECONDS,
        ]
        count = self._conn.run(
            lambda r: budget_scripts.EXPIRE(r, keys=script_keys, args=args),
            op="expire budget reservations",
        )
        return int(count)

    def spent(self, scope: str, period_key: str) -> tuple[float, int, float, int]:
        """(usd spent, tokens spent, usd reserved, tokens reserved) of ``scope`` in a period."""
        key = self._conn.key(keys.budget_period(scope, period_key))
        values = self._conn.run(
            lambda r: r.hmget(
                key, ["usd_spent", "tokens_spent", "usd_reserved", "tokens_reserved"]
            ),
            op="read budget",
        )
        usd, tok, usd_held, tok_held = (int(v or 0) for v in values)
        return usd / MICRO, tok, usd_held / MICRO, tok_held

    def seed(self, scope: str, period_key: str, *, usd: float, tokens: int) -> bool:
        """Set a period's spend (from Postgres) if Redis has no record of it; True if set."""
        key = self._conn.key(keys.budget_period(scope, period_key))
        args = [_micro(usd), tokens, _PERIOD_TTL[_period_of(period_key)]]
        done = self._conn.run(
            lambda r: budget_scripts.SEED(r, keys=[key], args=args), op="seed budget"
        )
        return int(done) == 1

    def _reservation_keys(self, reservation: Reservation) -> list[str]:
        return [
            self._conn.key(keys.budget_reservations()),
            self._conn.key(keys.budget_reservation(reservation.id)),
            *(self._conn.key(keys.budget_period(s, k)) for s, k in reservation.periods),
        ]


def agent_scope(agent_id: str) -> str:
    return f"agent:{agent_id}"


def period_key(period: Period, now: dt.datetime) -> str:
    """The UTC day (``2026-11-21``) or month (``2026-11``) ``now`` falls in."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    utc = now.astimezone(dt.UTC)
    return f"{utc:%Y-%m-%d}" if period == "day" else f"{utc:%Y-%m}"


def limits_for(org: loading.Organization, agent_id: str) -> list[Limit]:
    """Every limit a model call by ``agent_id`` must stay within (its own and the org's)."""
    own, whole = org.agents[agent_id].budget, org.org.budget
    scope = agent_scope(agent_id)
    return [
        Limit(scope=scope, period="day", usd=own.daily_usd, tokens=own.daily_tokens),
        Limit(scope=scope, period="month", usd=own.monthly_usd, tokens=own.monthly_tokens),
        Limit(scope=ORG_SCOPE, period="day", usd=whole.daily_usd, tokens=whole.daily_tokens),
        Limit(scope=ORG_SCOPE, period="month", usd=whole.monthly_usd, tokens=whole.monthly_tokens),
    ]


def money(usd: float) -> str:
    """``$5.98``, ``$6.00``, ``$0.0045``: cents, or up to four decimals when they matter."""
    text = f"{usd:,.4f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def _micro(usd: float) -> int:
    return round(usd * MICRO)


def _period_of(key: str) -> Period:
    for period, pattern in _PERIOD_KEY.items():
        if pattern.match(key):
            return "day" if period == "day" else "month"
    raise ValueError(f"{key!r} is not a period key (YYYY-MM-DD or YYYY-MM)")


def _decode_periods(text: str) -> tuple[tuple[str, str], ...]:
    # Stored as `scope|period key` lines (scopes and period keys never contain `|`).
    pairs = (line.partition("|") for line in text.split("\n") if line)
    return tuple((scope, key) for scope, _, key in pairs)

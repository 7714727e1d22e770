"""Hard model-spend budgets: reserve, settle, release, expire; atomic and shared in Redis."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from support.bus_helpers import NOW

from aito.bus import budgets
from aito.bus.budgets import BudgetLedger, Limit, Refusal, Reservation
from aito.bus.redis import RedisBus
from aito.org import loading

CMO = budgets.agent_scope("cmo")
CMO_DAY = Limit(scope=CMO, period="day", usd=6.0)
CMO_MONTH = Limit(scope=CMO, period="month", usd=150.0)
ORG_DAY = Limit(scope="org", period="day", usd=60.0)
DAY, MONTH = "2026-11-21", "2026-11"


def reserve(
    ledger: BudgetLedger,
    rid: str,
    usd: float,
    *,
    limits: list[Limit] | None = None,
    tokens: int = 0,
    now: dt.datetime = NOW,
    ttl: float = 900,
) -> Reservation | Refusal:
    return ledger.reserve(
        reservation_id=rid,
        limits=limits if limits is not None else [CMO_DAY],
        usd=usd,
        tokens=tokens,
        now=now,
        ttl_seconds=ttl,
    )


def held(ledger: BudgetLedger, rid: str, usd: float, **kwargs: object) -> Reservation:
    found = reserve(ledger, rid, usd, **kwargs)  # type: ignore[arg-type]
    assert isinstance(found, Reservation), found
    return found


def test_reserving_within_the_limits_holds_the_amount(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)

    reservation = held(ledger, "r1", 0.05, tokens=1200, limits=[CMO_DAY, CMO_MONTH, ORG_DAY])

    assert reservation.periods == ((CMO, DAY), (CMO, MONTH), ("org", DAY))
    assert reservation.scopes == (CMO, "org")
    assert reservation.expires_at == NOW + dt.timedelta(minutes=15)
    assert ledger.spent(CMO, DAY) == (0.0, 0, 0.05, 1200)
    assert ledger.spent(CMO, MONTH) == (0.0, 0, 0.05, 1200)
    assert ledger.spent("org", DAY) == (0.0, 0, 0.05, 1200)
    assert ledger.spent("org", MONTH) == (0.0, 0, 0.0, 0)  # no limit asked for it


def test_over_an_agent_daily_limit_is_refused_naming_the_limit(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    ledger.settle(held(ledger, "r1", 5.0), usd=5.92, tokens=0)
    held(ledger, "r2", 0.03)

    refusal = reserve(ledger, "r3", 0.06, limits=[ORG_DAY, CMO_DAY])

    assert isinstance(refusal, Refusal)
    assert (refusal.scope, refusal.period, refusal.period_key, refusal.unit) == (
        CMO,
        "day",
        DAY,
        "usd",
    )
    assert refusal.reason == (
        "agent cmo daily budget: $5.92 spent + $0.03 reserved + $0.06 asked > $6.00"
    )
    assert ledger.spent(CMO, DAY) == (5.92, 0, 0.03, 0)
    assert ledger.spent("org", DAY)[2] == 0.0  # all or nothing: the org limit held nothing


def test_all_or_nothing_across_agent_and_org_limits(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    org_small = Limit(scope="org", period="day", usd=1.0)
    cto = Limit(scope=budgets.agent_scope("cto"), period="day", usd=10.0)
    held(ledger, "cto-1", 0.9, limits=[cto, org_small])

    refusal = reserve(ledger, "cmo-1", 0.2, limits=[CMO_DAY, org_small])

    assert isinstance(refusal, Refusal) and refusal.scope == "org"
    assert refusal.reason == "org daily budget: $0.00 spent + $0.90 reserved + $0.20 asked > $1.00"
    assert ledger.spent(CMO, DAY) == (0.0, 0, 0.0, 0)
    assert isinstance(reserve(ledger, "cmo-2", 0.1, limits=[CMO_DAY, org_small]), Reservation)


def test_concurrent_reservations_never_exceed_a_limit(redis_url: str) -> None:
    clients = [RedisBus(url=redis_url) for _ in range(5)]
    limit = Limit(scope=CMO, period="day", usd=10.0)
    results: list[Reservation | Refusal] = []
    lock = threading.Lock()

    def ask(i: int) -> None:
        found = BudgetLedger(clients[i % len(clients)]).reserve(
            reservation_id=f"r{i}", limits=[limit], usd=1.0, tokens=0, now=NOW
        )
        with lock:
            results.append(found)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spent = BudgetLedger(clients[0]).spent(CMO, DAY)
    for client in clients:
        client.close()

    assert sum(isinstance(r, Reservation) for r in results) == 10 and len(results) == 50
    assert spent == (0.0, 0, 10.0, 0)


def test_settle_moves_reserved_to_spent_once(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    reservation = held(ledger, "r1", 0.10, tokens=2000, limits=[CMO_DAY, CMO_MONTH])

    ledger.settle(reservation, usd=0.1234, tokens=2500)  # more than reserved: recorded as is
    ledger.settle(reservation, usd=0.1234, tokens=2500)

    assert ledger.spent(CMO, DAY) == (0.1234, 2500, 0.0, 0)
    assert ledger.spent(CMO, MONTH) == (0.1234, 2500, 0.0, 0)
    assert ledger.release(reservation) is False  # settled: nothing to give back


def test_reserving_the_same_id_twice_reserves_once(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    first = held(ledger, "r1", 1.0, tokens=10)

    again = held(ledger, "r1", 1.0, tokens=10)

    assert again == first
    assert ledger.spent(CMO, DAY) == (0.0, 0, 1.0, 10)


def test_release_gives_the_reservation_back(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    reservation = held(ledger, "r1", 4.0)
    assert isinstance(reserve(ledger, "r2", 4.0), Refusal)

    assert ledger.release(reservation) is True
    assert ledger.release(reservation) is False

    assert ledger.spent(CMO, DAY) == (0.0, 0, 0.0, 0)
    assert isinstance(reserve(ledger, "r2", 4.0), Reservation)
    ledger.settle(reservation, usd=1.0, tokens=0)  # released first: settling is a no-op
    assert ledger.spent(CMO, DAY) == (0.0, 0, 4.0, 0)


def test_an_expired_reservation_gives_its_amount_back(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    crashed = held(ledger, "crashed", 5.0, ttl=60)

    early = reserve(ledger, "r2", 5.0, now=NOW + dt.timedelta(seconds=59))
    assert isinstance(early, Refusal) and early.reserved == 5.0

    later = held(ledger, "r3", 5.0, now=NOW + dt.timedelta(seconds=61))
    assert ledger.spent(CMO, DAY) == (0.0, 0, 5.0, 0)
    assert ledger.release(crashed) is False  # already given back
    assert ledger.release(later) is True
    assert ledger.spent(CMO, DAY) == (0.0, 0, 0.0, 0)


def test_settling_an_expired_reservation_still_records_the_spend(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    slow = held(ledger, "slow", 1.0, ttl=60)
    assert ledger.expire(now=NOW + dt.timedelta(seconds=30)) == 0
    assert ledger.expire(now=NOW + dt.timedelta(seconds=61)) == 1

    ledger.settle(slow, usd=1.5, tokens=100)
    ledger.settle(slow, usd=1.5, tokens=100)

    assert ledger.spent(CMO, DAY) == (1.5, 100, 0.0, 0)


def test_settling_by_id_alone_records_the_spend_once(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    held(ledger, "run:0", 0.10, tokens=2000, limits=[CMO_DAY, CMO_MONTH])

    # a run recovering after a crash knows only the id, maybe settled already
    assert ledger.settle_once("run:0", usd=0.12, tokens=2100) is True
    assert ledger.settle_once("run:0", usd=0.12, tokens=2100) is False

    assert ledger.spent(CMO, DAY) == (0.12, 2100, 0.0, 0)
    assert ledger.spent(CMO, MONTH) == (0.12, 2100, 0.0, 0)


def test_settling_by_id_after_expiry_or_data_loss(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    held(ledger, "slow", 1.0, ttl=60)
    assert ledger.expire(now=NOW + dt.timedelta(seconds=61)) == 1
    assert ledger.settle_once("slow", usd=0.5, tokens=10) is True  # expired: still counted
    assert ledger.spent(CMO, DAY) == (0.5, 10, 0.0, 0)
    # Redis lost the reservation (and its periods): nothing is written that a seed from
    # Postgres, which counts the call already, would then not fill
    assert ledger.settle_once("never-reserved", usd=9.0, tokens=9) is False
    assert ledger.spent(CMO, DAY) == (0.5, 10, 0.0, 0)
    assert ledger.spent("agent:ceo", DAY) == (0.0, 0, 0.0, 0)


def test_token_limits(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    tokens_only = Limit(scope=CMO, period="day", tokens=10_000)
    ledger.settle(held(ledger, "r1", 0.0, tokens=9000, limits=[tokens_only]), usd=0, tokens=9000)
    held(ledger, "r2", 0.0, tokens=500, limits=[tokens_only])

    refusal = reserve(ledger, "r3", 0.0, tokens=1000, limits=[tokens_only])

    assert isinstance(refusal, Refusal) and refusal.unit == "tokens"
    assert refusal.reason == (
        "agent cmo daily token budget: 9,000 spent + 500 reserved + 1,000 asked > 10,000 tokens"
    )
    assert isinstance(reserve(ledger, "r4", 0.0, tokens=500, limits=[tokens_only]), Reservation)


def test_the_month_is_a_period_of_its_own(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    limits = [CMO_DAY, Limit(scope=CMO, period="month", usd=13.0)]
    for day in range(3):
        now = NOW + dt.timedelta(days=day)
        ledger.settle(held(ledger, f"r{day}", 4.0, limits=limits, now=now), usd=4.0, tokens=0)

    refusal = reserve(ledger, "r9", 4.0, limits=limits, now=NOW + dt.timedelta(days=3))

    assert isinstance(refusal, Refusal) and (refusal.period, refusal.period_key) == (
        "month",
        MONTH,
    )
    assert refusal.reason.startswith("agent cmo monthly budget: $12.00 spent")
    assert ledger.spent(CMO, DAY)[0] == 4.0 and ledger.spent(CMO, MONTH)[0] == 12.0
    december = NOW.replace(month=12, day=1)
    assert isinstance(reserve(ledger, "r10", 4.0, limits=limits, now=december), Reservation)
    assert ledger.spent(CMO, "2026-12") == (0.0, 0, 4.0, 0)


def test_periods_are_utc(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    tokyo = dt.timezone(dt.timedelta(hours=9))
    late = dt.datetime(2026, 12, 1, 8, 0, tzinfo=tokyo)  # still 30 November in UTC

    reservation = held(ledger, "r1", 1.0, limits=[CMO_DAY, CMO_MONTH], now=late)

    assert reservation.periods == ((CMO, "2026-11-30"), (CMO, MONTH))
    with pytest.raises(ValueError, match="timezone"):
        budgets.period_key("day", dt.datetime(2026, 11, 21))


def test_seed_only_when_the_period_is_missing(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)

    assert ledger.seed(CMO, DAY, usd=5.5, tokens=3000) is True
    assert ledger.seed(CMO, DAY, usd=1.0, tokens=1) is False

    assert ledger.spent(CMO, DAY) == (5.5, 3000, 0.0, 0)
    refusal = reserve(ledger, "r1", 1.0)
    assert isinstance(refusal, Refusal) and refusal.spent == 5.5
    held(ledger, "r2", 0.5)
    assert ledger.seed(CMO, MONTH, usd=0.0, tokens=0) is True
    with pytest.raises(ValueError, match="period key"):
        ledger.seed(CMO, "November", usd=0.0, tokens=0)


def test_money_is_exact_in_micro_dollars(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    limit = Limit(scope=CMO, period="day", usd=0.3)
    for i in range(3):
        ledger.settle(held(ledger, f"r{i}", 0.1, limits=[limit]), usd=0.1, tokens=0)

    assert ledger.spent(CMO, DAY)[0] == 0.3  # not 0.30000000000000004
    assert isinstance(reserve(ledger, "r9", 0.000001, limits=[limit]), Refusal)
    assert budgets.money(0.0045) == "$0.0045" and budgets.money(1234.5) == "$1,234.50"


def test_limits_come_from_the_org(example_repo: Path) -> None:
    org = loading.load_valid(example_repo)

    limits = budgets.limits_for(org, "cmo")

    assert [(lim.scope, lim.period, lim.usd) for lim in limits] == [
        (CMO, "day", 6.0),
        (CMO, "month", 150.0),
        ("org", "day", 60.0),
        ("org", "month", 1500.0),
    ]


def test_bad_amounts_are_refused_before_redis(bus: RedisBus) -> None:
    ledger = BudgetLedger(bus)
    with pytest.raises(ValueError, match=">= 0"):
        reserve(ledger, "r1", -1.0)

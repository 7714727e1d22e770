"""Governance figures: verdict throughput, and forge calls per tally.

1. The pure engine: verdicts for 10,000 open decisions with 20 reviews each.
2. One `aito decide tally` on the local forge: how many forge (port) calls it makes,
   for histories of growing length (target: a constant, independent of history length;
   on GitHub each list call may add pages of 100).
3. The same tally through PyGithub against the local GitHub stand-in: HTTP requests of
   a first tally in a fresh process (every blob read once), of the same with the tally
   job's clone of the base branch at hand (blobs whose hash matches are read from it),
   and of a later tally in the same process (blobs and commit trees come from the cache
   by content hash), with the ratio to the 34 requests a tally took before the cache.

Run: .venv/bin/python bench/bench_governance.py
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from support.histories import BOTS, MAINTAINER, T0, policy  # noqa: E402

from aito.decisions import applying, proposing  # noqa: E402
from aito.forge.base import Forge, Permission, ReviewState  # noqa: E402
from aito.forge.local import LocalForge  # noqa: E402
from aito.governance import tallying  # noqa: E402
from aito.governance.history import (  # noqa: E402
    DecisionFacts,
    PullFacts,
    PullStatus,
    Push,
    ReviewEvent,
    ReviewKind,
)
from aito.org import loading  # noqa: E402
from aito.org.organization import Tier  # noqa: E402

USERS = [*BOTS.values(), MAINTAINER, 999]
BEFORE_CACHE = 34
"""HTTP requests of a 5-review tally before blobs were cached by sha (most read org/)."""


def random_history(rng: random.Random, number: int, reviews: int) -> PullFacts:
    pushes = [Push(T0, "c1", "t1", BOTS["cmo"])]
    if rng.random() < 0.3:
        pushes.append(Push(T0 + dt.timedelta(hours=rng.uniform(0, 30)), "c2", "t2", BOTS["cmo"]))
    events = tuple(
        ReviewEvent(
            T0 + dt.timedelta(minutes=rng.randint(0, 60 * 60)),
            n,
            rng.choice(USERS),
            rng.choice(list(ReviewKind)),
            rng.choice(pushes).sha,
            rng.choice(["", "abstain"]),
        )
        for n in range(reviews)
    )
    return PullFacts(
        number=number,
        opened_at=T0,
        author=BOTS["cmo"],
        status=PullStatus.OPEN,
        pushes=tuple(pushes),
        reviews=events,
    )


def bench_engine(decisions: int, reviews: int) -> None:
    rng = random.Random(7)
    histories = [random_history(rng, n, reviews) for n in range(decisions)]
    policies = {tier: policy(tier) for tier in Tier}
    tiers = [rng.choice([Tier.MINOR, Tier.MAJOR, Tier.MAJOR, Tier.CRITICAL]) for _ in histories]
    now = T0 + dt.timedelta(hours=80)
    started = time.perf_counter()
    outcomes: collections.Counter[str] = collections.Counter()
    for facts, tier in zip(histories, tiers, strict=True):
        verdict = tallying.evaluate(
            decision=DecisionFacts(f"d{facts.number}", tier, "cmo"),
            policy=policies[tier],
            facts=facts,
            now=now,
        )
        outcomes[verdict.status.value] += 1
    elapsed = time.perf_counter() - started
    print(
        f"engine: {decisions} verdicts with {reviews} reviews each in {elapsed:.3f} s "
        f"({elapsed / decisions * 1e6:.0f} µs per verdict); outcomes {dict(outcomes)}"
    )


class CountingForge:
    """Wraps a forge and counts calls per method (the port's 'API calls')."""

    def __init__(self, inner: LocalForge) -> None:
        self._inner = inner
        self.calls: collections.Counter[str] = collections.Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted


def bench_calls(history_lengths: list[int]) -> None:
    for length in history_lengths:
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp)
            for part in ("org", "profiles"):
                shutil.copytree(REPO_ROOT / part, repo / part)
            (repo / ".gitignore").write_text(".aito/\n")
            _commit_all(repo, "org")
            org = loading.load_valid(repo)
            inner = LocalForge(
                repo=repo,
                store=repo / ".aito/forge",
                permissions={m.id: Permission.ADMIN for m in org.org.maintainers},
            )
            now = dt.datetime.now(dt.UTC)
            number = _reviewed_decision(inner, org, reviews=length, now=now)
            forge = CountingForge(inner)
            applying.tally(forge, number, now=now)  # type: ignore[arg-type]
            total = sum(forge.calls.values())
            calls = dict(sorted(forge.calls.items()))
            print(f"tally with {length:>4} reviews: {total} forge calls {calls}")


def bench_github_calls(history_lengths: list[int]) -> None:
    """HTTP requests of one tally through PyGithub against the local GitHub stand-in."""
    from support.fake_github import make_github_forge, start_fake_github

    org = loading.load_valid(REPO_ROOT)
    governance = org.org.governance_repo.bot
    assert governance is not None
    files = {
        str(p.relative_to(REPO_ROOT)): p.read_bytes()
        for part in ("org", "profiles")
        for p in (REPO_ROOT / part).rglob("*")
        if p.is_file()
    }
    people = {a: (b.login, b.id) for a, b in org.org.bots.items()}
    for length in history_lengths:
        server = start_fake_github(users={})
        server.rate_limit = 1_000_000
        try:
            server.create_repo(org.org.governance_repo.repo, files=files)
            forge = make_github_forge(
                server,
                repo=org.org.governance_repo.repo,
                governance=(governance.login, governance.id),
                agents=people,
            )
            with forge:
                now = dt.datetime.now(dt.UTC)
                number = _reviewed_decision(forge, org, reviews=length, now=now)
            counts = []
            with tempfile.TemporaryDirectory() as tmp:
                checkout = _base_checkout(Path(tmp), files)  # the tally job's clone of main
                for local_objects in (None, checkout):
                    fresh = make_github_forge(
                        server,
                        repo=org.org.governance_repo.repo,
                        governance=(governance.login, governance.id),
                        agents=people,
                        local_objects=local_objects,
                    )
                    with fresh:  # a fresh process: nothing read yet
                        for _ in range(2):  # the first tally, then a later one
                            server.reset_counts()
                            applying.tally(fresh, number, now=now)
                            counts.append(sum(server.calls.values()))
            first, later, first_local, _ = counts
            print(
                f"GitHub: tally with {length:>4} reviews: {first} HTTP requests in a fresh "
                f"process, {first_local} with the base branch's clone, {later} later in the "
                f"same process ({first_local / BEFORE_CACHE:.2f}x and {later / BEFORE_CACHE:.2f}x "
                f"the {BEFORE_CACHE} before blobs were cached by sha)"
            )
        finally:
            server.stop()


def _reviewed_decision(
    forge: Forge, org: loading.Organization, *, reviews: int, now: dt.datetime
) -> int:
    """A major decision by the CMO with ``reviews`` comment reviews, tallied once (which
    freezes its policy); returns its pull request's number."""
    _, pull = proposing.propose(
        forge,
        org=org,
        proposer="cmo",
        tier=Tier.MAJOR,
        title="Bench",
        body="b",
        files={"content/b.md": b"b"},
        amount_usd=0,
        now=now,
    )
    head = forge.pull(pull.number).head_sha
    voters = ["cto", "cfo", "coo", "cco"]
    for n in range(reviews):
        forge.post_review(
            pull.number,
            author=proposing.identity_for(org, voters[n % len(voters)]),
            state=ReviewState.COMMENTED,
            body="note",
            commit_id=head,
        )
    applying.tally(forge, pull.number, now=now)
    return pull.number


def _base_checkout(root: Path, files: dict[str, bytes]) -> Path:
    """A git clone of the base branch's files (the tally job's `git clone --depth 1`)."""
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    _commit_all(root, "base")
    return root


def _commit_all(root: Path, message: str) -> None:
    """`git init` on main, then one commit of everything in ``root``."""
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", message],
    ):
        subprocess.run(["git", "-C", str(root), *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--reviews", type=int, default=20)
    args = parser.parse_args()
    bench_engine(args.decisions, args.reviews)
    bench_calls([5, 50, 500])
    bench_github_calls([5, 50, 500])


if __name__ == "__main__":
    main()

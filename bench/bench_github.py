"""GitHub requests per agent wake-up and per tally, as open decisions and history grow.

Everything runs against the local GitHub stand-in (tests/support/fake_github.py), which
speaks GitHub's REST wire format, through the real client (PyGithub), and counts the
HTTP requests it serves.

1. `aito decide tally --all` (what governance.yml's schedule runs) with 10 and 100 open
   decisions, each with a history of 100 closed decision pull requests before it or
   none: requests in total and per open decision. Target: a constant per decision,
   whatever the history.
2. `aito agent run cmo` (what agent-cmo.yml runs), as a subprocess on GitHub with the
   offline model, with 0 and 100 open decisions and with 100 closed ones: requests per
   wake-up, the first time (each open decision it finds no stored verdict for is tallied
   read-only once) and the next (a manual wake-up: stored verdicts are read from
   Postgres). Target: independent of history (closed pull requests are never read).

Run: .venv/bin/python bench/bench_github.py [--open 100] [--closed 100]
(BENCH_VERBOSE=1 prints the requests of each wake-up by endpoint.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from support.fake_github import FakeGitHub, make_org_forge, start_fake_github  # noqa: E402

from aito.agent import task_settling  # noqa: E402
from aito.decisions import proposing, sweeping  # noqa: E402
from aito.forge.github import GitHubForge  # noqa: E402
from aito.org import loading  # noqa: E402
from aito.org.organization import Tier  # noqa: E402

MAINTAINER = ("shiba-maintainer", 90000001)


def _checkout(root: Path) -> Path:
    """The governance repo's base branch, as `actions/checkout` leaves it."""
    for part in ("org", "profiles"):
        shutil.copytree(REPO_ROOT / part, root / part)
    (root / ".gitignore").write_text(".aito/\n")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "org"],
    ):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    return root


def _world(
    root: Path, *, open_count: int, closed_count: int
) -> tuple[FakeGitHub, GitHubForge, loading.Organization]:
    """A fake GitHub holding the example org's governance repo, ``closed_count`` decision
    pull requests closed unmerged (the history) and ``open_count`` open ones."""
    org = loading.load_valid(root)
    server = start_fake_github(users={})
    server.rate_limit = 10_000_000
    forge = make_org_forge(server, root, org, admins={"maintainer": MAINTAINER})
    now = dt.datetime.now(dt.UTC)
    proposers = ["cmo", "cto", "coo", "cco"]
    for n in range(closed_count + open_count):
        _, pull = proposing.propose(
            forge,
            org=org,
            proposer=proposers[n % len(proposers)],
            tier=Tier.MAJOR,
            title=f"Bench {n}",
            body="b",
            files={f"content/bench-{n}.md": b"b"},
            amount_usd=0,
            now=now,
        )
        if n < closed_count:
            forge.close(pull.number, actor=proposing.identity_for(org, MAINTAINER[0]))
    return server, forge, org


def bench_tally(open_counts: list[int], closed_counts: list[int]) -> None:
    for closed in closed_counts:
        for opened in open_counts:
            with tempfile.TemporaryDirectory() as tmp:
                root = _checkout(Path(tmp))
                server, forge, _ = _world(root, open_count=opened, closed_count=closed)
                try:
                    now = dt.datetime.now(dt.UTC)
                    with forge:
                        sweeping.tally_open(forge, now=now)  # the first sweep freezes policies
                    counts = []
                    for _ in range(2):  # a scheduled sweep in a fresh process, twice
                        fresh = make_org_forge_again(server, root)
                        server.reset_counts()
                        started = time.perf_counter()
                        with fresh:
                            sweep = sweeping.tally_open(fresh, now=now)
                            # `decide tally --all` also settles task record PRs (none here:
                            # what finding that out costs; the decisions are skipped)
                            tallied = [t.verdict.pr for t in sweep.tallies]
                            _, unsettled = task_settling.settle_open(fresh, decisions=tallied)
                        elapsed = time.perf_counter() - started
                        assert not sweep.problems and not unsettled, sweep.problems
                        counts.append(sum(server.calls.values()))
                    print(
                        f"tally --all: {opened:>3} open, {closed:>3} closed before: "
                        f"{counts[-1]} HTTP requests ({counts[-1] / opened:.1f} per open "
                        f"decision; {elapsed:.1f} s)"
                    )
                finally:
                    server.stop()


def make_org_forge_again(server: FakeGitHub, root: Path) -> GitHubForge:
    """A new GitHubForge on the same server, as a new tally job's process makes it."""
    from support.fake_github import make_github_forge

    org = loading.load_valid(root)
    governance = org.org.governance_repo.bot
    assert governance is not None
    people = {a: (b.login, b.id) for a, b in org.org.bots.items()}
    return make_github_forge(
        server,
        repo=org.org.governance_repo.repo,
        governance=(governance.login, governance.id),
        agents=people | {"maintainer": MAINTAINER},
        local_objects=root,
    )


def bench_wake_up(cases: list[tuple[int, int]]) -> None:
    for opened, closed in cases:
        with tempfile.TemporaryDirectory() as tmp:
            root = _checkout(Path(tmp) / "repo")
            server, forge, org = _world(root, open_count=opened, closed_count=closed)
            forge.disconnect()
            env = {
                key: value
                for key, value in os.environ.items()
                if not key.startswith(("AITO_", "GITHUB_", "POSTGRES_", "REDIS_"))
            } | {
                "AITO_REPO": str(root),
                "AITO_DATA_DIR": str(Path(tmp) / "data"),
                "AITO_FORGE": "github",
                "AITO_GITHUB_API_URL": server.url,
                "AITO_MODEL": "offline",
                "AITO_GITHUB_TOKEN": f"ghp_governance_{org.org.governance_repo.bot.id}"
                if org.org.governance_repo.bot
                else "",
            }
            for agent, bot in org.org.bots.items():
                env[f"AITO_GITHUB_TOKEN_{agent.upper()}"] = f"ghp_{agent}_{bot.id}"
            try:
                figures = []
                for trigger in ("schedule", "workflow_dispatch"):
                    server.reset_counts()
                    started = time.perf_counter()
                    done = subprocess.run(
                        [sys.executable, "-m", "aito", "agent", "run", "cmo", "--trigger", trigger],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    elapsed = time.perf_counter() - started
                    if done.returncode != 0:
                        raise SystemExit(f"agent run failed:\n{done.stdout}\n{done.stderr}")
                    figures.append((sum(server.calls.values()), elapsed))
                    if os.environ.get("BENCH_VERBOSE"):
                        print(dict(server.calls), done.stdout[-600:])
                (first, _), (second, took) = figures
                print(
                    f"wake-up cmo: {opened:>3} open, {closed:>3} closed decisions: "
                    f"{first} HTTP requests the first time (it tallies, read-only, each open "
                    f"decision no tally stored yet), {second} the next time ({took:.1f} s)"
                )
            finally:
                server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--open", type=int, default=100, dest="opened")
    parser.add_argument("--closed", type=int, default=100)
    args = parser.parse_args()
    bench_tally([10, args.opened], [0, args.closed])
    bench_wake_up([(0, 0), (args.opened, 0), (args.opened, args.closed)])


if __name__ == "__main__":
    main()

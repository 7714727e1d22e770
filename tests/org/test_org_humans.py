"""`humans` in org/org.yaml (issue 11): people who may propose, up to a tier ceiling."""

from __future__ import annotations

import shutil
from pathlib import Path

from aito.org import loading
from aito.org.organization import Tier

REPO = Path(__file__).resolve().parents[2]


def organization(tmp_path: Path, humans: str, decision: str | None = None) -> loading.LoadResult:
    for part in ("org", "profiles"):
        shutil.copytree(REPO / part, tmp_path / part)
    org_yaml = tmp_path / "org/org.yaml"
    org_yaml.write_text(org_yaml.read_text().replace("humans: []", humans))
    if decision is not None:
        (tmp_path / "org/decisions").mkdir(exist_ok=True)
        (tmp_path / "org/decisions/by-hand.yaml").write_text(decision)
    return loading.load(tmp_path)


def test_a_human_member_may_propose_minor_by_default(tmp_path: Path) -> None:
    result = organization(tmp_path, "humans:\n  - {login: Carol, id: 5}")
    assert result.problems == []
    assert result.organization is not None
    [carol] = result.organization.org.humans
    assert (carol.login, carol.id, carol.may_propose) == ("Carol", 5, Tier.MINOR)


def test_a_record_proposed_by_a_person_is_valid(tmp_path: Path) -> None:
    record = "id: by-hand\ntitle: T\nproposed_by: carol\ntier: minor\n"
    result = organization(tmp_path, "humans:\n  - {login: Carol, id: 5}", record)
    assert result.problems == []  # logins match ignoring case, as GitHub's do
    maintainer = "id: by-hand\ntitle: T\nproposed_by: shiba-maintainer\ntier: critical\n"
    assert organization(tmp_path / "m", "humans: []", maintainer).problems == []

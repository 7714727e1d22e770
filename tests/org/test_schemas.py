"""The JSON Schemas of the file formats are a public API: snapshot-tested, and they accept
every shipped file (so editors that validate against them agree with `aito validate`)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from aito.org import schemas

REPO_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = REPO_ROOT / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(schemas.FORMATS))
def test_schema_matches_its_snapshot(name: str) -> None:
    snapshot = SNAPSHOTS / f"{name}.json"
    assert snapshot.is_file(), "run `aito schema --write docs/schemas`"
    assert schemas.dump(name) == snapshot.read_text(), (
        f"the {name} format changed: review the change, then run `aito schema --write docs/schemas`"
    )


@pytest.mark.parametrize(
    ("name", "pattern"),
    [("org", "org/org.yaml"), ("agent", "org/agents/*.yaml")],
)
@pytest.mark.parametrize("example", ["repo", "minimal"])
def test_shipped_files_satisfy_their_schema(name: str, pattern: str, example: str) -> None:
    root = REPO_ROOT if example == "repo" else REPO_ROOT / "aito/examples/minimal"
    validator = jsonschema.Draft202012Validator(json.loads(schemas.dump(name)))
    files = sorted(root.glob(pattern))
    assert files
    for path in files:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], f"{path}: {errors}"


def test_the_schema_rejects_an_unknown_field() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(schemas.dump("task")))
    task = {"id": "t-1", "title": "x", "assigned_to": "cmo", "created_by": "ceo", "colour": "red"}
    assert any("colour" in e.message for e in validator.iter_errors(task))

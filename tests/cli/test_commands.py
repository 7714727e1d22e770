"""The `aito` command as a user runs it: exit codes, output formats, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _break_reports_to(repo: Path) -> int:
    cmo = repo / "org/agents/cmo.yaml"
    text = cmo.read_text().replace("reports_to: ceo", "reports_to: ceoo")
    cmo.write_text(text)
    return text.splitlines().index("reports_to: ceoo") + 1


def test_validate_passes_on_the_shipped_org(example_repo: Path, run_aito) -> None:  # type: ignore[no-untyped-def]
    result = run_aito("--repo", str(example_repo), "validate")
    assert result.code == 0, result.out + result.err
    assert "ok: Shiba Classic: 11 agents" in result.out


def test_validate_reports_file_and_line_and_fails(example_repo: Path, run_aito) -> None:  # type: ignore[no-untyped-def]
    line = _break_reports_to(example_repo)
    result = run_aito("--repo", str(example_repo), "validate")
    assert result.code == 1
    assert f"org/agents/cmo.yaml:{line}: reports_to 'ceoo' is not an agent" in result.out


def test_validate_prints_github_annotations(example_repo: Path, run_aito) -> None:  # type: ignore[no-untyped-def]
    line = _break_reports_to(example_repo)
    result = run_aito("--repo", str(example_repo), "validate", "--format", "github")
    assert result.code == 1
    assert result.out.startswith(f"::error file=org/agents/cmo.yaml,line={line}::")
    assert "reports_to 'ceoo'" in result.out


def test_validate_json(example_repo: Path, run_aito) -> None:  # type: ignore[no-untyped-def]
    line = _break_reports_to(example_repo)
    result = run_aito("--repo", str(example_repo), "validate", "--format", "json")
    data = json.loads(result.out)
    assert result.code == 1 and data["valid"] is False
    assert {"file": "org/agents/cmo.yaml", "line": line} == {
        k: data["problems"][0][k] for k in ("file", "line")
    }


def test_render_check_fails_after_an_edit_until_render(example_repo: Path, run_aito) -> None:  # type: ignore[no-untyped-def]
    args = ("--repo", str(example_repo))
    assert run_aito(*args, "render", "--check").code == 0
    cto = example_repo / "org/agents/cto.yaml"
    cto.write_text(
        cto.read_text().replace(
            "loop:\n  schedule: 1h", "loop:\n  schedule: 1h\n  timeout_minutes: 45"
        )
    )

    drifted = run_aito(*args, "render", "--check")
    assert drifted.code == 1
    assert "+    timeout-minutes: 45" in drifted.out and "agent-cto.yml (changed)" in drifted.err

    rendered = run_aito(*args, "render")
    assert rendered.code == 0 and "wrote .github/workflows/agent-cto.yml" in rendered.out
    assert run_aito(*args, "render", "--check").code == 0


def test_render_refuses_an_invalid_org(example_repo: Path, run_aito) -> None:  # type: ignore[no-untyped-def]
    _break_reports_to(example_repo)
    result = run_aito("--repo", str(example_repo), "render")
    assert result.code == 1 and "reports_to 'ceoo'" in result.err


def test_schema_lists_and_prints_formats(run_aito) -> None:  # type: ignore[no-untyped-def]
    listing = run_aito("schema")
    assert all(name in listing.out for name in ("org", "agent", "decision", "task", "message"))
    agent = json.loads(run_aito("schema", "agent").out)
    assert agent["additionalProperties"] is False and "reports_to" in agent["properties"]


@pytest.mark.parametrize("example", ["minimal", "shiba-classic"])
def test_init_scaffolds_a_repo_that_validates_and_renders_clean(
    tmp_path: Path,
    example: str,
    run_aito,  # type: ignore[no-untyped-def]
) -> None:
    target = tmp_path / "my-org"
    created = run_aito("init", str(target), "--example", example)
    assert created.code == 0, created.err
    assert run_aito("--repo", str(target), "validate").code == 0
    assert run_aito("--repo", str(target), "render", "--check").code == 0
    codeowners = (target / ".github/CODEOWNERS").read_text()
    for protected in ("/org/", "/profiles/", "/.github/"):
        assert protected in codeowners
    assert ".aito/" in (target / ".gitignore").read_text()
    assert (target / ".git").is_dir()
    again = run_aito("init", str(target))
    assert again.code == 2 and "--force" in again.err


def test_org_show_json_lists_every_agent(example_repo: Path, run_aito) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(run_aito("--repo", str(example_repo), "org", "show", "--json").out)
    by_id = {a["id"]: a for a in data}
    assert len(by_id) == 11
    assert by_id["cmo"]["repos"] == ["og-shibaclassic/shiba-social"]
    assert by_id["cmo"]["paths"] == ["content/**", "campaigns/**"]
    assert by_id["content-writer"]["schedule"] == "on demand"


def test_bad_input_gives_a_message_not_a_traceback(example_repo: Path) -> None:
    (example_repo / "org/agents/cmo.yaml").write_bytes(b"\xff\xfe\x00garbage: [")
    (example_repo / "org/org.yaml").write_text("name: [unclosed\n")
    for command in (["validate"], ["render"], ["up"], ["org", "show"]):
        result = subprocess.run(
            [sys.executable, "-m", "aito", "--repo", str(example_repo), *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
        assert "org/org.yaml:1:" in result.stdout + result.stderr


def test_unknown_command_is_a_usage_error(run_aito) -> None:  # type: ignore[no-untyped-def]
    assert run_aito("frobnicate").code == 2

"""`mcp:` in org/org.yaml and agents' `mcp_servers` (issue 14): servers by name, each a
command or a URL, its secrets by name only and never AITO's own; an agent may list only
servers the organization has."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aito.org import loading, mcp_servers

REPO = Path(__file__).resolve().parents[2]


def organization(
    tmp_path: Path, mcp: str, *, content_writer: list[str] | None = None
) -> loading.LoadResult:
    for part in ("org", "profiles"):
        shutil.copytree(REPO / part, tmp_path / part)
    org_yaml = tmp_path / "org/org.yaml"
    org_yaml.write_text(org_yaml.read_text() + "\n" + mcp + "\n")
    if content_writer is not None:
        agent = tmp_path / "org/agents/content-writer.yaml"
        agent.write_text(agent.read_text() + f"mcp_servers: [{', '.join(content_writer)}]\n")
    return loading.load(tmp_path)


SERVERS = """mcp:
  servers:
    news: {command: [aito, mcp, serve, rss], domains: [blog.example.org]}
    cms: {url: "https://cms.example.org/mcp", writes: true, env: [AITO_MCP_CMS_TOKEN]}
"""


def test_servers_by_name_and_an_agent_listing_them(tmp_path: Path) -> None:
    result = organization(tmp_path, SERVERS, content_writer=["news", "cms"])
    assert result.problems == []
    assert result.organization is not None
    settings = result.organization.org.mcp
    assert settings.dry_run is False
    assert settings.servers["news"].hosts() == ["blog.example.org"]
    assert settings.servers["cms"].hosts() == ["cms.example.org"]  # its URL's host
    assert result.organization.agents["content-writer"].mcp_servers == ["news", "cms"]


def test_an_agent_listing_an_unknown_server_is_an_error_at_its_line(tmp_path: Path) -> None:
    result = organization(tmp_path, SERVERS, content_writer=["news", "telegram"])
    [problem] = result.problems
    assert problem.file.name == "content-writer.yaml" and problem.line > 1
    assert "no MCP server 'telegram'" in problem.message and "known: cms, news" in problem.message


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("{command: [x], url: 'https://a.example.org'}", "exactly one of `command`"),
        ("{}", "exactly one of `command`"),
        ("{command: [x], env: [ANTHROPIC_API_KEY]}", "ANTHROPIC_API_KEY may not be handed"),
        ("{command: [x], env: [AITO_GITHUB_TOKEN_CMO]}", "AITO_GITHUB_TOKEN_CMO may not be"),
        ("{command: [x], env: [POSTGRES_URL]}", "POSTGRES_URL may not be handed"),
        ("{command: [x], domains: ['http://x.org']}", "domains"),
        (
            "{command: [x], recipients: [board at example.org]}",
            "recipients.0: 'board at example.org' is not an e-mail address (ops@example.org) "
            "or a domain (@example.org)",
        ),
        ("{command: [x], recipients: ['@']}", "recipients.0: '@' is not an e-mail address"),
        ("{command: [x], recipients: ['*.example.org']}", "is not an e-mail address"),
        ("{command: [x], recipients: ['a@b@example.org']}", "is not an e-mail address"),
    ],
)
def test_a_bad_server_entry_is_an_error_at_its_line(tmp_path: Path, entry: str, says: str) -> None:
    result = organization(tmp_path, f"mcp:\n  servers:\n    bad: {entry}")
    assert result.problems, entry
    problem = result.problems[0]
    assert problem.file.name == "org.yaml" and problem.line > 1
    assert says in problem.message, problem.message


def test_a_server_may_have_its_own_secret(tmp_path: Path) -> None:
    ok = organization(
        tmp_path, "mcp:\n  servers:\n    tg: {command: [x], env: [AITO_MCP_TG, TG_KEY]}"
    )
    assert ok.problems == []


@pytest.mark.parametrize(
    ("host", "allowed", "expected"),
    [
        ("blog.example.org", ["blog.example.org"], True),
        ("BLOG.example.org.", ["blog.example.org"], True),
        ("evil-blog.example.org", ["blog.example.org"], False),
        ("a.b.example.org", ["*.example.org"], True),
        ("example.org", ["*.example.org"], False),
        ("example.org.evil.net", ["*.example.org"], False),
        ("anything.net", [], False),
    ],
)
def test_hosts_match_exactly_or_as_subdomains(
    host: str, allowed: list[str], expected: bool
) -> None:
    assert mcp_servers.host_allowed(host, allowed) is expected


def test_recipients_are_addresses_or_domains_matched_regardless_of_case(
    tmp_path: Path,
) -> None:
    result = organization(
        tmp_path,
        "mcp:\n  servers:\n    mail:\n      command: [aito, mcp, serve, email]\n"
        "      recipients: [Board@Example.org, '@ShibaClassic.example']",
    )
    assert result.problems == [] and result.organization is not None
    mail = result.organization.org.mcp.servers["mail"]
    assert mail.recipients == ["board@example.org", "@shibaclassic.example"]
    assert mail.recipient_allowed("BOARD@example.org")
    assert mail.recipient_allowed("anyone@shibaclassic.example")
    assert not mail.recipient_allowed("board@example.org.evil.net")
    assert not mail.recipient_allowed("anyone@sub.shibaclassic.example")
    assert not mail.recipient_allowed("other@example.org")


@pytest.mark.parametrize(
    ("command", "connector"),
    [
        (["aito", "mcp", "serve", "email"], "email"),
        (["/opt/venv/bin/aito", "mcp", "serve", "email", "--domain", "x.org"], "email"),
        (["python3", "-m", "aito", "mcp", "serve", "email"], "email"),
        (["aito", "mcp", "serve", "rss"], "rss"),
        (["npx", "mail-mcp", "serve", "email"], None),
        (["mcp", "serve", "email"], None),
    ],
)
def test_a_server_running_one_of_aitos_connectors_is_known_by_its_command(
    command: list[str], connector: str | None
) -> None:
    """AITO's own email connector sends to nobody without `recipients`: it is known by
    its command, whatever the server's name."""
    assert mcp_servers.McpServer(command=command).connector() == connector

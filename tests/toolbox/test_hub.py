"""The hub: a run's MCP servers started on the trusted side — AITO's own connector, a
third-party server from the npm registry (the reference filesystem server) and a probe —
listed and called through the MCP SDK; each server gets only its own secrets."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.act import NPM_CACHE
from support.web_servers import Page, Site, site

from aito.errors import ConfigError, PermissionDenied
from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

FILESYSTEM = NPM_CACHE / "@modelcontextprotocol" / "server-filesystem" / "dist" / "index.js"
PROBE = Path(__file__).resolve().parents[1] / "support" / "mcp_env_server.py"
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>
<item><title>Hello</title><guid>h1</guid></item></channel></rss>"""


def filesystem_server(root: Path) -> McpServer:
    if shutil.which("node") is None or not FILESYSTEM.is_file():
        pytest.fail(
            f"the reference MCP server is missing: run scripts/fetch-github-specs ({FILESYSTEM})"
        )
    return McpServer(command=["node", str(FILESYSTEM), str(root)], writes=True)


@pytest.fixture
def web() -> Iterator[Site]:
    with site({"/feed.xml": Page(FEED, "application/rss+xml")}) as served:
        yield served


def test_a_connector_and_a_third_party_server_are_listed_and_called(
    tmp_path: Path, web: Site
) -> None:
    (tmp_path / "notes.txt").write_text("the roadmap is public\n")
    servers = {
        "news": McpServer(command=["aito", "mcp", "serve", "rss"], domains=["127.0.0.1"]),
        "files": filesystem_server(tmp_path),
    }
    with hub.Hub(servers) as opened:
        tools = {t.qualified: t for t in opened.tools()}
        assert tools["news__read_feed"].read_only  # a server that does not write
        assert tools["files__read_text_file"].read_only  # annotated read-only by its authors
        assert not tools["files__write_file"].read_only  # a write: only as a checked action
        read = opened.call("news", "read_feed", {"url": web.url("/feed.xml")})
        assert not read.is_error and read.structured is not None
        assert [i["title"] for i in read.structured["items"]] == ["Hello"]
        notes = opened.call("files", "read_text_file", {"path": str(tmp_path / "notes.txt")})
        assert not notes.is_error and "the roadmap is public" in notes.text
        outside = opened.call("files", "read_text_file", {"path": "/etc/hostname"})
        assert outside.is_error  # the server's own rule: only its directory
        with pytest.raises(PermissionDenied):
            opened.call("mail", "send", {})
        with pytest.raises(PermissionDenied):
            opened.call("news", "fetch_page", {"url": web.url("/feed.xml")})


def test_each_server_gets_only_its_own_secrets() -> None:
    environ = {
        "PATH": "/usr/bin:/bin",
        "ANTHROPIC_API_KEY": "sk-ant-never",
        "AITO_GITHUB_TOKEN_CMO": "ghs-never",
        "POSTGRES_URL": "postgresql://never",
        "AITO_MCP_PROBE_TOKEN": "probe-secret",
        "AITO_MCP_OTHER_TOKEN": "other-secret",
    }
    probe = McpServer(
        command=[sys.executable, str(PROBE)], env=["AITO_MCP_PROBE_TOKEN"], domains=["a.example"]
    )
    with hub.Hub({"probe": probe}, environ=environ) as opened:
        seen = opened.call("probe", "environment", {})
    names = json.loads(seen.text) if seen.structured is None else seen.structured
    assert names["AITO_MCP_PROBE_TOKEN"] == "probe-secret"
    assert names["AITO_MCP_DOMAINS"] == "a.example"
    for never in (
        "ANTHROPIC_API_KEY",
        "AITO_GITHUB_TOKEN_CMO",
        "POSTGRES_URL",
        "AITO_MCP_OTHER_TOKEN",
    ):
        assert never not in names


def test_a_server_without_its_secret_does_not_start() -> None:
    probe = McpServer(command=[sys.executable, str(PROBE)], env=["AITO_MCP_PROBE_TOKEN"])
    opened = hub.Hub({"probe": probe}, environ={"PATH": "/usr/bin:/bin"})
    with pytest.raises(ConfigError, match="AITO_MCP_PROBE_TOKEN"):
        opened.open()
    assert opened.tools() == []  # nothing started

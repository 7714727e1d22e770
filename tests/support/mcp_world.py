"""MCP servers for an agent-loop world (an ``edit`` of :func:`agent_world.open_world`):
:func:`serving` writes servers into org.yaml's `mcp.servers` and lists them in an agent's
`mcp_servers`; :func:`probe` is a server that writes (its `post` appended to the file
`AITO_MCP_PROBE_LOG` names, support/mcp_env_server.py); :func:`post` is the model's call
of that write, as a checked action."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from support.agent_world import edit_agent

from aito.org.mcp_servers import McpServer

PROBE = Path(__file__).resolve().parent / "mcp_env_server.py"


def probe() -> McpServer:
    return McpServer(command=[sys.executable, str(PROBE)], writes=True, env=["AITO_MCP_PROBE_LOG"])


def serving(servers: Mapping[str, McpServer], *, agent: str = "cmo") -> Callable[[Path], None]:
    def edit(repo: Path) -> None:
        org_yaml = repo / "org" / "org.yaml"
        data = yaml.safe_load(org_yaml.read_text())
        data["mcp"] = {
            "servers": {
                name: server.model_dump(mode="json", exclude_defaults=True)
                for name, server in servers.items()
            }
        }
        org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
        edit_agent(repo, agent, lambda spec: spec.update(mcp_servers=list(servers)))

    return edit


def post(text: str, *, cites: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {"arguments": {"text": text}, "summary": f"Post: {text[:40]}"}
    if cites is not None:
        data["cites"] = cites
    return ("write__social__post", data)

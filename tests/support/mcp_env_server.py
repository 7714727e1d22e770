"""A small MCP server for tests (built with the mcp SDK): tells what environment it was
started with, and offers one read tool and one write tool."""

from __future__ import annotations

import os

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("env-probe")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def environment() -> dict[str, str]:
    """The names of the variables this server was started with (and AITO_MCP_* values)."""
    return {k: (v if k.startswith("AITO_MCP_") else "") for k, v in sorted(os.environ.items())}


@server.tool()
def post(text: str) -> str:
    """Publish ``text`` (a write)."""
    return f"posted: {text}"


if __name__ == "__main__":
    server.run("stdio")

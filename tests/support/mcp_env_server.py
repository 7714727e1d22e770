"""A small MCP server for tests (built with the mcp SDK): tells what environment it was
started with (a read), and publishes a text (a write, logged to a file)."""

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
    """Publish ``text`` (a write): appended to the file AITO_MCP_PROBE_LOG names."""
    log = os.environ.get("AITO_MCP_PROBE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(text + "\n")
    return f"posted: {text}"


if __name__ == "__main__":
    server.run("stdio")

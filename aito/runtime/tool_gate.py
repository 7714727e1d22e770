"""The launcher's side of an agent container's MCP tools: its servers (and their secrets)
run here; the container lists them, calls those that read, and asks for the writes its
run checked and claimed, each checked again here (the container is not trusted to have
checked it)."""

from __future__ import annotations

import dataclasses

from aito.agent import actions, world_writing
from aito.agent.ports import LoopPorts
from aito.org import loading
from aito.runtime import gateway, protocol
from aito.toolbox import hub


@dataclasses.dataclass
class ToolGate:
    ports: LoopPorts
    org: loading.Organization
    agent_id: str
    tools: hub.Hub

    def list(self, ask: protocol.ToolsAsk) -> protocol.ToolList:
        """The agent's servers' tools (those that write are listed as such)."""
        return protocol.ToolList(
            tools=[
                protocol.ToolDescription(
                    server=t.server,
                    name=t.name,
                    description=t.description,
                    input_schema=t.input_schema,
                    read_only=t.read_only,
                )
                for t in self.tools.tools()
            ]
        )

    def call(self, ask: protocol.ToolCallAsk) -> protocol.ToolCallReply:
        """A read of the container's tool loop (any other tool is refused)."""
        tool = self.tools.tool(hub.qualified_name(ask.server, ask.tool))
        if tool is None or tool.name != ask.tool:
            raise gateway.Refusal(403, f"no tool {ask.tool!r} of an MCP server {ask.server!r}")
        if not tool.read_only:
            raise gateway.Refusal(403, f"{ask.server}.{ask.tool} writes: only a checked action may")
        return _reply(self.tools.call(ask.server, ask.tool, ask.arguments))

    def write(self, ask: protocol.ToolWriteAsk) -> protocol.ToolCallReply:
        """A write: the write's own rules, the dry run, and the claim the run must have
        made first (the day's cap counts the claims)."""
        try:
            action = actions.McpWrite.model_validate(ask.action)
        except ValueError as exc:
            raise gateway.Refusal(400, f"not a write: {exc}") from exc
        why = world_writing.refusal(action, org=self.org, agent_id=self.agent_id)
        if why is None and (self.org.org.mcp.dry_run or self.ports.dry_run):
            why = "a dry run writes nothing"
        mine = self.ports.memory.items(kind="write", agent_id=self.agent_id, state=None)
        if why is None and not any(item["ref"] == ask.ref for item in mine):
            why = f"no claim {ask.ref!r}: a write is claimed before it is made"
        made = world_writing.made_today(mine, self.ports.clock())
        if why is None and made > self.org.org.mcp.writes_per_day:  # the claim counts too
            why = "the day's cap of writes is passed"
        if why is not None:
            raise gateway.Refusal(403, why)
        return _reply(self.tools.write(action.model_dump(mode="json"), ref=ask.ref))


def _reply(outcome: hub.Outcome) -> protocol.ToolCallReply:
    return protocol.ToolCallReply(
        text=outcome.text,
        is_error=outcome.is_error,
        duration_ms=outcome.duration_ms,
        structured=outcome.structured,
    )

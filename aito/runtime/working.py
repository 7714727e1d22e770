"""Inside a worker's container (`aito worker exec`): think through the gateway, hand in
the answer.

The worker holds nothing: it reads its task from the gateway, asks the model through it
(each call checked, budgeted and saved by the launcher), checks the answer against the
action schema as the trusted side will, asks once more with the reason if it was
rejected, and hands in the tool calls it chose. An answer that reads (its kind's MCP
tools) comes back with the results the trusted side got by making those reads; the
worker asks again with them (it never calls a tool itself, and has no network to). The
trusted side checks the answer again (it is only data) before anything is applied.
A ``claude-code`` worker runs a coding agent instead (:mod:`aito.runtime.claude_code`).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import TextIO

from aito.agent import actions, thinking
from aito.llm.base import Exchange
from aito.runtime import protocol, specs
from aito.runtime.base import ContainerSpec
from aito.runtime.client import GatewayClient

EXIT_NO_ANSWER = 1
EXIT_BUDGET = 9


def work(client: GatewayClient, out: TextIO) -> int:
    """One worker task, start to end; the exit code says how it ended."""
    task = client.task()
    if task.engine == "claude-code":
        from aito.runtime import claude_code  # its SDK is loaded only for such a worker

        return claude_code.work(client, task, out)
    request = task.request
    index = task.first_index
    rejected = 0
    while rejected < task.attempts:
        reply = client.model(protocol.ModelCall(index=index, request=request))
        index += 1
        if reply.refused is not None:
            out.write(f"budget refused: {reply.refused}\n")
            return EXIT_BUDGET
        if reply.turn is not None:  # it read: the trusted side made the reads
            out.write(f"read: {len(reply.turn.results)} tool result(s)\n")
            request = request.model_copy(
                update={"turns": [*request.turns, reply.turn], "feedback": None, "previous": []}
            )
            continue
        if reply.malformed is not None:
            exchange = Exchange(request=request, error=reply.malformed, rejected=reply.malformed)
            problems = [reply.malformed]
        elif reply.response is None:
            out.write(f"model call failed: {reply.error}\n")
            return EXIT_NO_ANSWER
        else:
            calls = reply.response.tool_calls
            try:
                actions.parse([(c.name, c.input) for c in calls])
            except actions.InvalidActions as exc:
                exchange = Exchange(request=request, response=reply.response)
                problems = exc.problems
            else:
                client.output(protocol.Output(tool_calls=list(calls)))
                out.write(f"answer handed in: {len(calls)} action(s)\n")
                return 0
        rejected += 1
        out.write(f"answer {index} rejected: {'; '.join(problems)[:500]}\n")
        request = thinking.again(request, problems, exchange)
    out.write("no valid answer\n")
    return EXIT_NO_ANSWER


def gateway_socket(spec: ContainerSpec) -> Path:
    """Where the gateway's socket is for a worker run in-process (no mount: its source)."""
    for mount in spec.mounts:
        if mount.target == specs.GATEWAY_DIR:
            return Path(mount.source) / Path(specs.GATEWAY_SOCKET).name
    return Path(spec.env.get("AITO_MODEL_GATEWAY", specs.GATEWAY_SOCKET))


def in_process(spec: ContainerSpec, stop: threading.Event, out: io.StringIO) -> int:
    """The in-process runtime's entry for ``aito worker exec``."""
    return work(GatewayClient(gateway_socket(spec)), out)

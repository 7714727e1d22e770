"""The gateway's model route: a container's model call, checked, reserved, forwarded,
settled, by the launcher, which holds the key.

A call is forwarded only if it is one of the agent's own unfinished runs, asks the
agent's own model within the output cap, and uses a call index never used before in that
run (a Redis marker, set once). Its worst case is reserved on the agent's and the
organization's budgets under the run's reservation id for that index (the one a crashed
run's recovery settles), and settled with its real usage after; the usage row is written
here too, under (run, index), so the container's own row for the call adds nothing.
"""

from __future__ import annotations

import logging

from aito.agent import accounting, thinking
from aito.agent.ports import LoopPorts
from aito.bus import budgets, keys
from aito.errors import AdapterError, TemporaryAdapterError
from aito.llm import base as llm
from aito.llm.base import Model
from aito.org import loading
from aito.runtime import protocol
from aito.runtime.gateway import Refusal

log = logging.getLogger(__name__)
MARKER_TTL_SECONDS = 40 * 86_400.0
"""Longer than any run lives (a run's calls are all made within its timeout)."""


class ModelGate:
    """Model calls for the runs of ``agent_id`` (and of the workers it spawns, each
    through a gate of its own)."""

    def __init__(
        self, ports: LoopPorts, org: loading.Organization, *, agent_id: str, model: Model
    ) -> None:
        self.ports = ports
        self.org = org
        self.agent_id = agent_id
        self.model = model
        self.calls = 0

    def __call__(self, call: protocol.ModelCall) -> protocol.ModelReply:
        request = call.request
        self._check(request)
        rid = accounting.reservation_id(request.run_id, call.index)
        if (
            self.ports.bus.try_lock(
                keys.gateway_call(request.run_id, call.index), ttl_seconds=MARKER_TTL_SECONDS
            )
            is None
        ):
            raise Refusal(409, f"call {call.index} of run {request.run_id} was made already")
        price = self.org.org.pricing[request.model]
        usd, tokens = llm.worst_case(request, price)
        ledger = self.ports.bus.ledger()
        granted = ledger.reserve(
            reservation_id=rid,
            limits=budgets.limits_for(self.org, self.agent_id),
            usd=usd,
            tokens=tokens,
            now=self.ports.clock(),
        )
        if isinstance(granted, budgets.Refusal):
            log.warning(
                "%s: budget refused call %d: %s", request.run_id, call.index, granted.reason
            )
            return protocol.ModelReply(refused=granted.model_dump(mode="json"))
        self.calls += 1
        try:
            response = self.model.complete(request)
        except llm.MalformedReply as exc:
            ledger.release(granted)
            return protocol.ModelReply(malformed=str(exc))
        except AdapterError as exc:
            ledger.release(granted)
            return protocol.ModelReply(
                error=f"{type(exc).__name__}: {exc}",
                temporary=isinstance(exc, TemporaryAdapterError),
            )
        spent = llm.cost_usd(response.usage, price)
        self.ports.memory.record_usage(
            accounting.usage_row(
                agent_id=self.agent_id,
                run_id=request.run_id,
                response=response,
                spent=spent,
                at=self.ports.clock(),
                index=call.index,
            )
        )
        ledger.settle_once(rid, usd=spent, tokens=response.usage.total)
        return protocol.ModelReply(response=response)

    def _check(self, request: llm.ModelRequest) -> None:
        if request.agent_id != self.agent_id:
            raise Refusal(403, f"this gateway serves {self.agent_id}, not {request.agent_id!r}")
        record = self.ports.memory.run_record(request.run_id)
        if record is None or record["agent_id"] != self.agent_id or record["status"] != "running":
            raise Refusal(403, f"{request.run_id!r} is not an unfinished run of {self.agent_id}")
        wanted = self.org.model_of(self.agent_id)
        if request.model != wanted:
            raise Refusal(403, f"{self.agent_id} thinks with {wanted}, not {request.model!r}")
        if request.max_tokens > thinking.MAX_TOKENS:
            raise Refusal(400, f"max_tokens {request.max_tokens} > {thinking.MAX_TOKENS}")

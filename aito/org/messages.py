"""`AgentMessage`: what agents say to each other over the bus (the seed's message type)."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import AwareDatetime, Field, model_validator

from aito.org.common import OrgModel, Slug

GROUP_TARGETS = ("all", "head", "clevel")


class MessageType(enum.StrEnum):
    TASK = "task"
    STATUS_REQUEST = "status_request"
    STATUS_RESPONSE = "status_response"
    DECISION = "decision"
    VOTE = "vote"
    ALERT = "alert"
    BROADCAST = "broadcast"
    DIRECT = "direct"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class AgentMessage(OrgModel):
    """One message. ``to`` is an agent id or a group: ``all``, ``head`` or ``clevel``."""

    id: str = Field(min_length=1, max_length=128)
    type: MessageType
    from_: Slug = Field(alias="from")
    to: Slug = Field(description="an agent id, or `all`, `head`, `clevel`")
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    timestamp: AwareDatetime
    requires_response: bool = False
    response_deadline: AwareDatetime | None = None
    correlation_id: str | None = Field(
        None, description="for a response: the id of the request it answers"
    )

    model_config = OrgModel.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _deadline_after_sending(self) -> AgentMessage:
        if self.response_deadline is not None:
            if not self.requires_response:
                raise ValueError("response_deadline is set but requires_response is false")
            if self.response_deadline < self.timestamp:
                raise ValueError("response_deadline is before the message's timestamp")
        if self.type is MessageType.STATUS_RESPONSE and not self.correlation_id:
            raise ValueError("a status_response needs correlation_id (the request's id)")
        return self

    @property
    def is_group(self) -> bool:
        return self.to in GROUP_TARGETS

    def to_wire(self) -> str:
        """JSON with the seed's field names (``from``, not ``from_``)."""
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_wire(cls, data: str | bytes) -> AgentMessage:
        return cls.model_validate_json(data)

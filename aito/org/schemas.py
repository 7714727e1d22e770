"""JSON Schema of every file format: the YAML formats are AITO's public API.

`aito schema` prints them; `tests/org/test_schemas.py` snapshots them so a
change to a format is a deliberate, reviewed change.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic

from aito.org import agents, messages, organization, records

FORMATS: dict[str, tuple[type[pydantic.BaseModel], str]] = {
    "org": (organization.OrgFile, "org/org.yaml"),
    "agent": (agents.AgentSpec, "org/agents/<id>.yaml"),
    "decision": (records.Decision, "org/decisions/<id>.yaml"),
    "task": (records.Task, "org/tasks/<id>.yaml"),
    "message": (messages.AgentMessage, "an AgentMessage on the bus (JSON)"),
}


def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema of format ``name`` (a key of :data:`FORMATS`)."""
    model, where = FORMATS[name]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:aito:schema:{name}"
    schema.setdefault("description", where)
    schema["x-aito-file"] = where
    return schema


def dump(name: str) -> str:
    """Stable, pretty JSON text of the schema (what snapshots compare)."""
    return json.dumps(schema_of(name), indent=2, sort_keys=True) + "\n"

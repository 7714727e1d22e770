"""Prompts from Jinja2 templates: a stable, cacheable prefix and a small dynamic turn.

The prefix has two parts, in this order, each the end of a prompt-cache breakpoint
(see :mod:`aito.llm.caching`):

1. what every agent of the organization shares (`shared.md.j2`): the organization
   chart, how agents act and the rules, the action reference generated from the
   action schema. With the tool schemas, which come before it in a request, it is
   the same bytes for every agent (of one tool set: workers are offered fewer
   tools), so one agent's call writes it to the provider's cache and the others read
   it at a tenth of the price;
2. the agent's own part (`agent.md.j2`): who it is, its permissions and its profile,
   the same on each of its wake-ups until its definition changes.

The turn carries this wake-up. Both have a size budget
(`defaults.prompt_max_bytes` for the prefix, and :data:`TURN_MAX_BYTES`): a prefix
over budget is an `aito validate` problem, a turn over budget is trimmed (oldest
history first) rather than sent whole.
"""

from __future__ import annotations

import functools

import jinja2

from aito.agent import actions, checking, context
from aito.agent.context import AgentCard, Context, Permissions
from aito.errors import Problem
from aito.llm.base import ToolSpec
from aito.org import loading
from aito.org.agents import Layer

TURN_MAX_BYTES = 24_000

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("aito.agent", "templates"),
    autoescape=False,  # noqa: S701 - Markdown for a model, not HTML
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=False,
)


def shared_prompt(*, organization: str, agents: list[AgentCard]) -> str:
    """The part of the prefix every agent of the organization reads alike."""
    return _ENV.get_template("shared.md.j2").render(
        organization=organization, agents=agents, reference=action_reference()
    )


def agent_prompt(
    *, agent: AgentCard, organization: str, profile: str, permissions: Permissions
) -> str:
    """The agent's own part of the prefix: identity, permissions, profile."""
    return _ENV.get_template("agent.md.j2").render(
        agent=agent, organization=organization, profile=profile.strip(), permissions=permissions
    )


def system_prompt(
    *,
    agent: AgentCard,
    organization: str,
    agents: list[AgentCard],
    profile: str,
    permissions: Permissions,
) -> str:
    """The whole stable prefix (shared part, then the agent's): identical across
    wake-ups while the organization is unchanged."""
    shared = shared_prompt(organization=organization, agents=agents)
    own = agent_prompt(
        agent=agent, organization=organization, profile=profile, permissions=permissions
    )
    return shared + own


def shared_for(context: Context) -> str:
    """The shared part of :func:`system_for` (its first ``len(shared_for(...))`` characters)."""
    return shared_prompt(organization=context.organization, agents=context.agents)


def system_for(context: Context) -> str:
    return system_prompt(
        agent=context.agent,
        organization=context.organization,
        agents=context.agents,
        profile=context.profile,
        permissions=context.permissions,
    )


def turn_prompt(context: Context) -> str:
    """The dynamic part; history is dropped oldest-first until it fits the budget."""
    trimmed = context
    while True:
        text = _ENV.get_template("turn.md.j2").render(**dict(trimmed))
        if len(text.encode()) <= TURN_MAX_BYTES or not (trimmed.history or trimmed.recalled):
            return text
        if trimmed.recalled:
            trimmed = trimmed.model_copy(update={"recalled": trimmed.recalled[:-1]})
        else:
            trimmed = trimmed.model_copy(update={"history": trimmed.history[:-1]})


def prompt_problems(org: loading.Organization) -> list[Problem]:
    """Agents whose stable prompt prefix is over `defaults.prompt_max_bytes` (validation)."""
    limit = org.org.defaults.prompt_max_bytes
    agents = context.org_chart(org)
    problems = []
    for agent_id, spec in sorted(org.agents.items()):
        profile_path = org.root / spec.profile
        profile = profile_path.read_text("utf-8") if profile_path.is_file() else ""
        text = system_prompt(
            agent=context.card(org, agent_id),
            organization=org.org.name,
            agents=agents,
            profile=profile,
            permissions=context.permissions_of(org, agent_id, caps=checking.Caps().as_dict()),
        )
        size = len(text.encode())
        if size > limit:
            problems.append(
                Problem(
                    file=org.agent_file(agent_id),
                    line=1,
                    message=f"the prompt prefix of {agent_id} is {size:,} bytes, over "
                    f"defaults.prompt_max_bytes ({limit:,}); shorten profile {spec.profile} "
                    "or raise the limit in org.yaml",
                )
            )
    return problems


@functools.cache
def action_reference() -> str:
    return actions.reference()


def tools_for(layer: str) -> list[ToolSpec]:
    """The tools offered to an agent of ``layer``: workers get their allowlist only."""
    if layer == Layer.WORKER.value:
        return [tool for tool in tools() if tool.name in actions.WORKER_ACTIONS]
    return tools()


@functools.cache
def tools() -> list[ToolSpec]:
    """One tool per action type, its input schema generated from the action model."""
    return [
        ToolSpec(
            name=name, description=actions.describe(cls), input_schema=actions.input_schema(cls)
        )
        for name, cls in actions.ACTION_TYPES.items()
    ]

"""Which Actions secrets and variables a live organization needs, and where.

Two sources, merged: the names AITO's deployment uses (docs/deploy.md: one App per agent
with a loop, ``AITO_APP_ID_<AGENT>`` variable and ``AITO_APP_KEY_<AGENT>`` secret; the
governance App's ``AITO_GOVERNANCE_APP_ID``/``_KEY`` in the ``governance`` environment;
``AITO_POSTGRES_URL``, ``AITO_REDIS_URL``, ``ANTHROPIC_API_KEY``), and every
``secrets.X`` / ``vars.X`` the rendered workflows read, job by job, so a name a template
adds is checked without a second list to keep. A static token (``AITO_GITHUB_TOKEN``,
``AITO_GITHUB_TOKEN_<AGENT>``) is the optional alternative to an App, and a variable
read with a default (``vars.X || 'github'``) is optional too.

A name read by a job with an ``environment`` may live in that environment or at the
repository (or organization) level, except the governance App's, which must be in the
environment: only there is it out of reach of a workflow a pushed branch brings.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from aito import settings
from aito.org import loading
from aito.org.agents import Layer
from aito.workflows import rendering

SHARED_SECRETS = ("AITO_POSTGRES_URL", "AITO_REDIS_URL", "ANTHROPIC_API_KEY")
GOVERNANCE_APP_ID = settings.GOVERNANCE_APP_ID
GOVERNANCE_APP_KEY = settings.GOVERNANCE_APP_KEY
ENVIRONMENT_ONLY = re.compile(r"AITO_GOVERNANCE_")
OPTIONAL = re.compile(r"GITHUB_TOKEN|AITO_GITHUB_TOKEN(_[A-Z0-9_]+)?")
_REFERENCE = re.compile(r"\b(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)(\s*\|\|)?")


@dataclasses.dataclass(frozen=True)
class Need:
    """One secret or variable and the jobs that read it."""

    kind: str  # "secret" or "variable"
    name: str
    environment: str | None  # the readers' deployment environment, if any
    environment_only: bool  # must be in that environment (not the repo or the org)
    readers: tuple[str, ...]  # e.g. "agent-cmo.yml: wake"
    optional: bool = False


def needs(org: loading.Organization) -> list[Need]:
    """Every secret and variable, by (kind, name, environment), sorted."""
    found: dict[tuple[str, str, str | None], tuple[set[str], bool]] = {}

    def add(kind: str, name: str, env: str | None, reader: str, optional: bool) -> None:
        readers, was_optional = found.get((kind, name, env), (set(), True))
        found[(kind, name, env)] = (readers | {reader}, was_optional and optional)

    for path, text in rendering.render(org).items():
        for job, env, kind, name, optional in _references(path, text):
            add(kind, name, env, f"{path.name}: {job}", optional)
    gov_env = rendering.GOVERNANCE_ENVIRONMENT
    tally = "governance.yml: tally"
    add("variable", GOVERNANCE_APP_ID, gov_env, tally, False)
    add("secret", GOVERNANCE_APP_KEY, gov_env, tally, False)
    for spec in sorted(org.agents.values(), key=lambda a: a.id):
        if spec.layer is Layer.WORKER or spec.loop is None:
            continue
        wake = f"agent-{spec.id}.yml: wake"
        app_id, app_key, _ = settings.agent_app_names(spec.id)
        add("variable", app_id, None, wake, False)
        add("secret", app_key, None, wake, False)
        for name in SHARED_SECRETS:
            add("secret", name, None, wake, False)
    return sorted(
        (
            Need(
                kind=kind,
                name=name,
                environment=env,
                environment_only=env is not None and bool(ENVIRONMENT_ONLY.match(name)),
                readers=tuple(sorted(readers)),
                optional=optional,
            )
            for (kind, name, env), (readers, optional) in found.items()
        ),
        key=lambda n: (n.kind, n.name, n.environment or ""),
    )


def _references(path: Path, text: str) -> list[tuple[str, str | None, str, str, bool]]:
    """(job, environment, kind, name, optional) for each reference in a workflow."""
    data = yaml.safe_load(text) or {}
    shared = yaml.safe_dump(data.get("env") or {})
    out = []
    for job_id, job in (data.get("jobs") or {}).items():
        env = job.get("environment")
        env_name = env.get("name") if isinstance(env, dict) else env
        body = shared + yaml.safe_dump(job, width=10_000)
        for match in _REFERENCE.finditer(body):
            kind = "secret" if match.group(1) == "secrets" else "variable"
            name = match.group(2)
            if name == "GITHUB_TOKEN":
                continue  # GitHub makes it for every run
            optional = bool(OPTIONAL.fullmatch(name)) or match.group(3) is not None
            out.append((str(job_id), str(env_name) if env_name else None, kind, name, optional))
    return out

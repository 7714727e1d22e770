"""`profiles/<id>.md`: an agent's profile in the seed's format, parsed into sections.

A profile is Markdown: a `# Title` line, then the eight `## ` sections below in any
order. Bold `**Key:** value` lines inside Identity, Loop Schedule and Git
Integration are read as facts, so validation can compare them with the YAML.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from pydantic import Field

from aito.errors import Problem
from aito.org.common import OrgModel

REQUIRED_SECTIONS = (
    "Identity",
    "Mission",
    "Core Responsibilities",
    "Decision Authority",
    "Loop Schedule",
    "Git Integration",
    "Communication Style",
    "Escalation Rules",
)
_FACT = re.compile(r"^\*\*(?P<key>[^*:]+):\*\*\s*(?P<value>.*)$")
_EVERY = re.compile(
    r"^every\s+(?:(?P<count>\d+)\s+)?(?P<unit>minute|hour|day|week)s?\b", re.IGNORECASE
)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}


class Section(OrgModel):
    title: str
    line: int = Field(description="1-based line of the `## ` heading")
    body: str
    facts: dict[str, str] = Field(default_factory=dict, description="`**Key:** value` lines")
    fact_lines: dict[str, int] = Field(default_factory=dict)


class Profile(OrgModel):
    """A parsed profile; ``sections`` keyed by heading text."""

    path: Path
    title: str
    size_bytes: int
    sections: dict[str, Section]

    def fact(self, section: str, key: str) -> tuple[str, int] | None:
        """A `**key:** value` fact of ``section`` and its line, if present."""
        found = self.sections.get(section)
        if found is None or key not in found.facts:
            return None
        return found.facts[key], found.fact_lines[key]

    def interval_seconds(self) -> tuple[int | None, int] | None:
        """The Loop Schedule's interval in seconds (None for "On demand"), with its line."""
        fact = self.fact("Loop Schedule", "Interval")
        if fact is None:
            return None
        text, line = fact
        return parse_interval_text(text), line


def parse_interval_text(text: str) -> int | None:
    """Seconds in "Every 4 hours", "Every hour", "Daily"; None for "On demand".

    Raises ValueError for anything else.
    """
    cleaned = text.strip().rstrip(".")
    lowered = cleaned.lower()
    if lowered.startswith("on demand"):
        return None
    if lowered.startswith("daily"):
        return 86400
    if lowered.startswith("hourly"):
        return 3600
    match = _EVERY.match(cleaned)
    if not match:
        raise ValueError(
            f"cannot read interval {text!r}; "
            "write e.g. 'Every 4 hours', 'Every hour' or 'On demand'"
        )
    return int(match["count"] or 1) * _UNIT_SECONDS[match["unit"].lower()]


def parse_profile(path: Path, text: str) -> tuple[Profile, list[Problem]]:
    """Parse ``text`` (the content of ``path``); problems name their line."""
    problems: list[Problem] = []
    lines = text.splitlines()
    title = ""
    sections: dict[str, Section] = {}
    current: tuple[str, int, list[str]] | None = None

    def close() -> None:
        if current is None:
            return
        name, line, body = current
        if name in sections:
            problems.append(
                Problem(
                    path,
                    line,
                    f"section '## {name}' appears twice (first on line "
                    f"{sections[name].line}); merge them",
                )
            )
            return
        sections[name] = _make_section(name, line, body)

    in_code = False
    for number, raw in enumerate(lines, start=1):
        if raw.lstrip().startswith("```"):
            in_code = not in_code
        if in_code:
            if current is not None:
                current[2].append(raw)
            continue
        if raw.startswith("# ") and not title and current is None:
            title = raw[2:].strip()
        elif raw.startswith("## "):
            close()
            current = (raw[3:].strip(), number, [])
        elif current is not None:
            current[2].append(raw)
    close()

    if not title:
        problems.append(
            Problem(
                path,
                1,
                "a profile starts with a '# Title' line, e.g. '# Chief Marketing Officer (CMO)'",
            )
        )
    needed = ", ".join(f"'## {name}'" for name in REQUIRED_SECTIONS)
    if not sections:
        problems.append(Problem(path, 1, f"no '## ' sections; a profile needs {needed}"))
    # A heading that is not a required section but close to a missing one is a typo.
    extra = {name.lower(): name for name in sections if name not in REQUIRED_SECTIONS}
    for name in REQUIRED_SECTIONS if sections else ():
        if name not in sections:
            similar = difflib.get_close_matches(name.lower(), list(extra), n=1, cutoff=0.75)
            if similar:
                typo = sections[extra.pop(similar[0])]
                problems.append(
                    Problem(
                        path,
                        typo.line,
                        f"section '## {typo.title}' is not a profile section; "
                        f"did you mean '## {name}'?",
                    )
                )
            else:
                problems.append(
                    Problem(path, 1, f"missing section '## {name}'; a profile needs {needed}")
                )
        elif not sections[name].body.strip():
            problems.append(Problem(path, sections[name].line, f"section '## {name}' is empty"))
    profile = Profile(
        path=path, title=title, size_bytes=len(text.encode("utf-8")), sections=sections
    )
    return profile, problems


def _make_section(name: str, line: int, body: list[str]) -> Section:
    facts: dict[str, str] = {}
    fact_lines: dict[str, int] = {}
    for offset, raw in enumerate(body, start=1):
        match = _FACT.match(raw.strip())
        if match and match["key"].strip() not in facts:
            key = match["key"].strip()
            facts[key] = match["value"].strip()
            fact_lines[key] = line + offset
    return Section(
        title=name, line=line, body="\n".join(body).strip(), facts=facts, fact_lines=fact_lines
    )

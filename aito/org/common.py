"""Small types shared by every org file format."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from aito.org import schedules

Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"),
    Field(description="lower-case letters, digits and dashes, e.g. `cmo` or `content-writer`"),
]
RepoName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$"),
    Field(description="a GitHub repository as `owner/name`"),
]
GitHubLogin = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$"),
    Field(description="a GitHub login; app bots end in `[bot]`"),
]


def _check_duration(value: str) -> str:
    try:
        schedules.parse_duration(value)
    except schedules.ScheduleError as exc:
        raise ValueError(str(exc)) from exc
    return value


Duration = Annotated[
    str,
    AfterValidator(_check_duration),
    Field(description="a duration: a number and a unit s, m, h, d or w, e.g. `4h`"),
]


class OrgModel(BaseModel):
    """Base of every file format: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

"""Paths inside a repository: one glob semantics, path safety, and the protected paths.

**Globs are gitignore patterns** (matched by `pathspec`), everywhere AITO matches a
path: an agent's `git.paths` when it opens a pull request, the tier judgment of a
decision, and validation. As in a `.gitignore`:

* `*` and `?` stay within one path segment; `**` spans segments (`content/**`).
* A pattern matching a directory covers everything under it: `content/*` and
  `content/` both cover `content/a/b.md`.
* A pattern with no slash (other than a trailing one) matches at any depth:
  `*.md` covers every Markdown file, `README.md` every file of that name.
* Later patterns win, and `!` negates: `["content/**", "!content/legal/**"]` is all
  of `content/` except `content/legal/`.

Matching is case-sensitive for what a pattern *allows* and folded for what is
*protected*, so a name that is the same file on a macOS or Windows checkout is never a
way around protection: case variants (`.GitHub/workflows/x.yml`), letters Windows
upper-cases to ASCII (a dotless i, U+0131, or a long s, U+017F, in `.github` or
`.husky`) and the trailing dots and spaces Windows drops from a name (`.github./`,
`CODEOWNERS `).

**Protected paths** (:data:`PROTECTED`) are the files that make a repository run
code or change who must review: CI and automation definitions. No agent writes them
through an operational action (`open_pr`), whatever its `git.paths`; a decision
that touches them is critical. See :data:`PROTECTED` for the list and why.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

import pathspec

#: Patterns that run code with the repository's credentials or decide who must
#: review, with the reason shown to agents and in tallies. Kept narrow on purpose:
#: ordinary code (tests, scripts, a Makefile) is what agents are for; the files
#: below decide *what* CI runs, *when* and with *which* secrets, so a write to them
#: turns any change into arbitrary code with the repo's tokens.
PROTECTED: tuple[tuple[str, str], ...] = (
    (".github/", "GitHub workflows, actions, CODEOWNERS, dependabot and app settings"),
    ("CODEOWNERS", "who must review (GitHub reads it at the root, docs/ and .github/)"),
    ("action.yml", "a GitHub Action's definition, run by other workflows"),
    ("action.yaml", "a GitHub Action's definition, run by other workflows"),
    (".gitlab-ci.yml", "GitLab CI"),
    (".gitlab/", "GitLab CI templates and settings"),
    (".circleci/", "CircleCI"),
    (".travis.yml", "Travis CI"),
    ("azure-pipelines.yml", "Azure Pipelines"),
    (".azure-pipelines/", "Azure Pipelines"),
    ("bitbucket-pipelines.yml", "Bitbucket Pipelines"),
    ("Jenkinsfile", "Jenkins"),
    (".buildkite/", "Buildkite"),
    (".drone.yml", "Drone CI"),
    (".woodpecker.yml", "Woodpecker CI"),
    (".woodpecker/", "Woodpecker CI"),
    (".pre-commit-config.yaml", "hooks run on every contributor's machine and in CI"),
    (".githooks/", "git hooks"),
    (".husky/", "git hooks"),
    (".devcontainer/", "code run when a codespace or dev container starts"),
    (".gitmodules", "submodules: code fetched from other repositories"),
    ("renovate.json", "a bot that opens and may auto-merge dependency updates"),
    (".renovaterc", "a bot that opens and may auto-merge dependency updates"),
    (".renovaterc.json", "a bot that opens and may auto-merge dependency updates"),
)

#: In the governance repository the organization's rules and records change only
#: through decisions: no agent writes them with `open_pr`.
GOVERNANCE_PROTECTED: tuple[tuple[str, str], ...] = (
    ("org/", "the organization's rules and records change only through decisions"),
    ("profiles/", "agents' profiles change only through decisions"),
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_PATH = 1024


@functools.lru_cache(maxsize=1024)
def _spec(patterns: tuple[str, ...], fold: bool) -> pathspec.GitIgnoreSpec:
    lines = [p.lower() for p in patterns] if fold else list(patterns)
    return pathspec.GitIgnoreSpec.from_lines(lines)


def matches(path: str, patterns: Sequence[str]) -> bool:
    """True if ``patterns`` (gitignore semantics, the last match wins) cover ``path``."""
    if not patterns:
        return False
    return bool(_spec(tuple(patterns), False).match_file(path))


def matches_folded(path: str, patterns: Sequence[str]) -> bool:
    """Like :func:`matches`, on names as a case-insensitive file system sees them (for
    protections: never a way around them; see :func:`folded`)."""
    if not patterns:
        return False
    return bool(_spec(tuple(patterns), True).match_file(folded(path)))


def folded(path: str) -> str:
    """``path`` as macOS and Windows checkouts name the file: case folded through upper
    case (Windows maps U+0131, a dotless i, to ``I`` and U+017F, a long s, to ``S``), and
    each segment without the
    trailing dots and spaces Windows drops."""
    parts = [part.upper().lower().rstrip(". ") or part for part in path.split("/")]
    return "/".join(parts)


def protected_reason(path: str, *, governance: bool = False) -> str | None:
    """Why ``path`` is protected, or None; ``governance`` adds `org/` and `profiles/`."""
    table = PROTECTED + GOVERNANCE_PROTECTED if governance else PROTECTED
    for pattern, reason in table:
        if matches_folded(path, [pattern]):
            return f"{pattern} is protected ({reason})"
    return None


def unsafe_reason(path: str) -> str | None:
    """Why ``path`` is not a plain relative path inside a repository, or None.

    Refused: empty, absolute, backslashes, `.`/`..`/empty segments, a `.git`
    segment (git's own files), control characters (a newline in a file name can
    fake a line of a report), names that are not UTF-8 (read with U+FFFD in their
    place) and paths over 1,024 characters.
    """
    if not path:
        return "is empty"
    if len(path) > _MAX_PATH:
        return f"is longer than {_MAX_PATH} characters"
    if _CONTROL.search(path):
        return "contains a control character"
    if "\ufffd" in path:
        return "is not UTF-8 text (read with U+FFFD in its place)"
    if "\\" in path:
        return "uses a backslash; write paths with /"
    if path.startswith("/"):
        return "is absolute; write it relative to the repo root"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' segment"
    if any(folded(part) == ".git" for part in parts):
        return "is inside .git"
    return None


# Characters that would act instead of show when a path is printed: control characters
# (a terminal obeys ESC sequences), line separators, and invisible or direction-changing
# marks (a right-to-left override can make `dm.evorppa` read as "approve.md").
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def shown(path: str, limit: int = 120) -> str:
    """``path`` fit to repeat in a message: cut to ``limit`` characters (paths come from
    proposers: never an unbounded one) and with every control, invisible or direction
    mark written as an escape (``\\x1b``, ``\\u202e``), so printing it can never move a
    terminal's cursor, start a line or reverse what follows."""
    if len(path) > limit:
        path = path[: limit - 1] + "…"
    return _UNSHOWABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), path)


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable path filter inside a repo, or None if it is."""
    if not pattern.strip():
        return "is empty"
    if pattern != pattern.strip():
        return "has leading or trailing spaces (.gitignore would drop or keep them)"
    if "\\" in pattern:
        return "uses a backslash; write paths with /"
    body = pattern.removeprefix("!")
    if body.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", body):
        return "is absolute; write it relative to the repo root, e.g. content/**"
    if pattern.startswith("#"):
        return "starts with '#', which .gitignore reads as a comment"
    if ".." in body.split("/"):
        return "leaves the repo with '..'; path filters stay inside the repo"
    depth = 0
    for char in body:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if depth not in (0, 1):
            return "has unbalanced [ ]"
    if depth:
        return "has an unclosed '['"
    try:
        _spec((pattern,), False)
    except (ValueError, re.error) as exc:  # pathspec's refusal of a malformed pattern
        return f"is not a valid gitignore pattern ({str(exc)[:80]})"
    return None


def list_problem(patterns: Iterable[str]) -> str | None:
    """Why a whole list of path filters allows nothing useful, or None."""
    items = list(patterns)
    if items and all(p.startswith("!") for p in items):
        return "only excludes (every pattern starts with '!'), so it allows nothing"
    return None

"""What `aito github doctor` reads from GitHub, with a maintainer's admin-read token.

Each read answers a value, ``None`` when GitHub says it does not exist (404), or raises
:class:`Unreadable` when the token may not read it (401/403), so a check can say
"missing" and "cannot see" apart. Reads, all GETs (nothing is ever written):

- ``/repos/{o}/{r}``: the repositories exist;
- ``/orgs/{org}/installations``: where each App is installed (matched by its slug, the
  ``<slug>[bot]`` login in org.yaml), its permissions and repository selection; for a
  selection, ``/user/installations/{id}/repositories`` lists the repositories;
- ``/repos/{o}/{r}/branches/{b}/protection``;
- the base branch's files through the git data API (ref, recursive tree, blobs);
- ``/repos/{o}/{r}/actions/{secrets,variables,organization-secrets,organization-variables}``
  and ``/repos/{o}/{r}/environments/{env}`` with its secrets, variables and deployment
  branch policies (secret names only: GitHub never returns a secret's value);
- ``/repos/{o}/{r}/actions/runners`` and ``/orgs/{org}/actions/runners``.
"""

from __future__ import annotations

import base64
import urllib.parse
from typing import Any

import github
from github import Auth, GithubException
from pydantic import SecretStr

from aito import errors
from aito.forge import github_calling

SERVICE = "github"
PAGE = 100
MAX_PAGES = 50


class Unreadable(Exception):
    """The token may not read this (401/403); ``reason`` says what GitHub answered."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what, self.reason = what, reason


class GitHubReader:
    """GETs with the admin token through PyGithub's requester (no retries: a doctor run
    is interactive; a transport failure is a TemporaryAdapterError, exit 6)."""

    def __init__(self, *, api_url: str, token: SecretStr, timeout: int = 30) -> None:
        self._client = github.Github(
            auth=Auth.Token(token.get_secret_value()),
            base_url=api_url,
            timeout=timeout,
            retry=None,
            per_page=PAGE,
            # One request at a time, reads only: PyGithub's default 0.25 s pause between
            # requests would make the ~80 GETs of a doctor run take 20 s for nothing.
            seconds_between_requests=None,
        )

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, what: str) -> Any:
        """The JSON at ``path``; None on 404."""
        try:
            _, data = self._client.requester.requestJsonAndCheck("GET", path)
        except GithubException as exc:
            if exc.status == 404:
                return None
            if exc.status in (401, 403):
                raise Unreadable(what, f"{exc.status} {github_calling.error_message(exc)}") from exc
            raise errors.PermanentAdapterError(
                SERVICE, f"{what}: GitHub answered {exc.status} ({exc.data})"
            ) from exc
        except OSError as exc:
            raise errors.TemporaryAdapterError(SERVICE, f"{what}: {type(exc).__name__}") from exc
        return data

    def get_all(self, path: str, key: str, what: str) -> list[Any] | None:
        """Every item of a paginated list whose page is ``{"total_count", key: [...]}``,
        or a plain JSON array when ``key`` is empty; None on 404."""
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            sep = "&" if "?" in path else "?"
            data = self.get(f"{path}{sep}per_page={PAGE}&page={page}", what)
            if data is None:
                return None if page == 1 else items
            batch = data.get(key, []) if key else data
            items.extend(batch)
            if len(batch) < PAGE:
                break
        return items

    def names(self, path: str, key: str, what: str) -> dict[str, str | None] | None:
        """name → value (variables) or None (secrets: names only)."""
        items = self.get_all(path, key, what)
        if items is None:
            return None
        return {str(i["name"]): i.get("value") for i in items if isinstance(i, dict)}

    def files(self, repo: str, branch: str, wanted: tuple[str, ...]) -> dict[str, bytes] | None:
        """The files of ``branch`` under the ``wanted`` prefixes (or equal to them);
        None when the repository or branch is missing."""
        ref = self.get(f"/repos/{repo}/git/ref/heads/{_q(branch)}", f"branch {branch} of {repo}")
        if ref is None:
            return None
        sha = ref["object"]["sha"]
        commit = self.get(f"/repos/{repo}/git/commits/{sha}", f"commit {sha[:8]} of {repo}")
        tree = self.get(
            f"/repos/{repo}/git/trees/{commit['tree']['sha']}?recursive=1", f"tree of {repo}"
        )
        out: dict[str, bytes] = {}
        for entry in (tree or {}).get("tree", []):
            path = str(entry.get("path", ""))
            if entry.get("type") != "blob" or not any(
                path == w or path.startswith(w.rstrip("/") + "/") for w in wanted
            ):
                continue
            blob = self.get(f"/repos/{repo}/git/blobs/{entry['sha']}", f"{path} in {repo}")
            if blob is not None:
                out[path] = base64.b64decode(blob.get("content", ""))
        return out


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")

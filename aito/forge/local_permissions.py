"""Who may do what on the local forge: roles read from the governance branch as committed.

:class:`PermissionMethods` is the part of :class:`aito.forge.local.LocalForge` that
answers the port's ``permission``: maintainers in the base branch's `org/org.yaml`
administer, agents' bots and human members may write, everyone else reads; never from
the working tree (which a proposer's checkout can change), unless an explicit ``permissions`` map is
given.
"""

from __future__ import annotations

from pathlib import Path

import pydantic

from aito.forge.base import Identity, Permission
from aito.forge.local_git import LocalGit
from aito.org import organization, yamlfiles


class PermissionMethods(LocalGit):
    """Permissions of :class:`aito.forge.local.LocalForge`."""

    _base: str
    _permissions: dict[int, Permission] | None
    _base_permissions: tuple[str, dict[int, Permission]] | None

    def permission(self, user: Identity) -> Permission:
        if self._permissions is not None:
            return self._permissions.get(user.id, Permission.READ)
        return self._committed_permissions().get(user.id, Permission.READ)

    def _committed_permissions(self) -> dict[int, Permission]:
        """Roles from `org/org.yaml` on the base branch as committed (never the working
        tree): maintainers administer, agents' bots write; nobody, if it is unreadable."""
        sha = self._rev(f"refs/heads/{self._base}")
        if sha is None:
            return {}
        if self._base_permissions is not None and self._base_permissions[0] == sha:
            return self._base_permissions[1]
        content = self.read_tree(sha, prefixes=["org/org.yaml"]).get("org/org.yaml")
        found: dict[int, Permission] = {}
        if content is not None:
            try:
                data = yamlfiles.load_bytes(content, Path("org/org.yaml"))
                org = organization.OrgFile.model_validate(data)
            except (yamlfiles.YamlFileError, pydantic.ValidationError):
                org = None
            if org is not None:
                found = {bot.id: Permission.WRITE for bot in org.bots.values()}
                found |= {person.id: Permission.WRITE for person in org.humans}
                found |= {person.id: Permission.ADMIN for person in org.maintainers}
        self._base_permissions = (sha, found)
        return found

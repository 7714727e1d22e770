"""People of the example organization for the human-proposal tests (issue 11).

`with_people(root)` adds them to `org/org.yaml` of a checkout: two human members (one
who may propose up to major, one at the default ceiling) and a second maintainer. An
outsider is an account nobody lists.
"""

from __future__ import annotations

from pathlib import Path

from aito.forge.base import Identity

CAROL = Identity("carol-h", 90000101)  # a human member, may_propose: major
DAVE = Identity("Dave-H", 90000102)  # a human member at the default ceiling (minor)
MAINTAINER = Identity("shiba-maintainer", 90000001)  # the example org's maintainer
SECOND_MAINTAINER = Identity("shiba-second", 90000003)
OUTSIDER = Identity("eve-outsider", 90000666)  # in no list of the organization

PEOPLE = f"""\
humans:
  - login: {CAROL.login}
    id: {CAROL.id}
    name: Carol
    may_propose: major
  - login: {DAVE.login}
    id: {DAVE.id}
"""


def with_people(root: Path) -> None:
    """Add the human members and a second maintainer to ``root``'s org/org.yaml."""
    org_yaml = root / "org" / "org.yaml"
    text = org_yaml.read_text().replace(
        "maintainers:\n",
        f"maintainers:\n  - login: {SECOND_MAINTAINER.login}\n    id: {SECOND_MAINTAINER.id}\n",
        1,
    )
    assert text.count("humans: []") == 1, "the example org.yaml lists no humans"
    org_yaml.write_text(text.replace("humans: []\n", PEOPLE))

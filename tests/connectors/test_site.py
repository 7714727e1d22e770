"""The site connector against a real local HTTPS server with its own certificate
authority: status, latency and the certificate (verified as the system verifies it), and
a certificate that does not verify or expires soon reported as a problem."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.agent_world import ScriptedModel, World
from support.mcp_world import serving
from support.tls_servers import TlsSite, tls_site
from support.web_servers import Page, Site, site

from aito.connectors import fetching
from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

SERVER = McpServer(command=["aito", "mcp", "serve", "site"], domains=["127.0.0.1"])


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[TlsSite]:
    with tls_site(tmp_path, valid_days=10) as served:
        yield served


def check(url: str, **arguments: object) -> dict[str, object]:
    with hub.Hub({"site": SERVER}) as opened:
        outcome = opened.call("site", "check", {"url": url, **arguments})
    assert not outcome.is_error and outcome.structured is not None, outcome.text
    return outcome.structured


def test_a_trusted_certificate_is_read_and_an_expiry_within_the_warning_is_a_problem(
    secure: TlsSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(secure.ca_file))  # the system's trust, for the test
    found = check(secure.url())
    assert found["status"] == 200
    certificate = found["certificate"]
    assert isinstance(certificate, dict) and certificate["verified"] is True
    assert certificate["issuer"] == "AITO Test CA" and certificate["days_left"] == 10
    assert found["ok"] is False and found["problems"] == ["certificate expires in 10 day(s)"]
    facts = {f["id"]: f["value"] for f in found["facts"]}  # type: ignore[union-attr]
    assert facts["certificate_days_left.127.0.0.1"] == 10 and facts["status.127.0.0.1"] == 200
    assert check(secure.url(), warn_days=5)["ok"] is True


def test_a_certificate_that_does_not_verify_is_a_problem_not_ignored(secure: TlsSite) -> None:
    found = check(secure.url())
    certificate = found["certificate"]
    assert isinstance(certificate, dict) and certificate["verified"] is False
    assert "certificate" in str(certificate["error"])
    assert found["ok"] is False and found["status"] is None


def test_an_error_status_is_a_problem() -> None:
    served: Site
    with site({"/up": Page(b"fine")}) as served:
        assert check(served.url("/up"))["ok"] is True
        down = check(served.url("/gone"))
    assert down["status"] == 404 and down["problems"] == ["HTTP 404"]
    assert down["certificate"] is None


def test_an_agent_learns_its_site_is_down_in_its_next_turn(
    make_world: Callable[..., World],
) -> None:
    """End to end through an agent's run: the CMO checks its website (a turn); that it
    answers 503 reaches its next request as a problem and as a fact, and it acts on it."""
    with site({"/": Page(b"maintenance", status=503)}) as served:
        model = ScriptedModel(
            [("site__check", {"url": served.url("/")})],
            [("summary", {"text": "The site is down (503); told the CTO."})],
        )
        world = make_world(model, edit=serving({"site": SERVER}))
        outcome = world.run("cmo", force=True)
    assert outcome.status == "completed", outcome.error
    [result] = model.requests[1].turns[0].results
    assert not result.is_error, result.content
    found = json.loads(result.content)
    assert (found["status"], found["ok"], found["problems"]) == (503, False, ["HTTP 503"])
    assert {f["id"]: f["value"] for f in found["facts"]}["site.status.127.0.0.1"] == 503
    [record] = [e["payload"] for e in world.events("tool.called")]
    assert (record["server"], record["tool"], record["error"]) == ("site", "check", None)
    assert served.asked == ["/"]  # one GET
    assert served.headers[0]["User-Agent"] == fetching.USER_AGENT
    assert [(a.type, a.status) for a in outcome.actions] == [("summary", "executed")]

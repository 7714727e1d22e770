"""The email connector through the MCP SDK's client: `send` through smtplib to a real local
SMTP server (aiosmtpd, as the notifier's tests use), `inbox` and `message` through imaplib
to a local IMAP4rev1 server (support.imap_server); what each server received is asserted,
and reading never marks a message seen."""

from __future__ import annotations

import email.message
import email.policy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import notify_servers
from support.agent_world import ScriptedModel, edit_agent
from support.imap_server import ImapState, imap_server
from support.local_repo import git

from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

SENDER = "AITO Ops <ops@shibaclassic.example>"
USER, PASSWORD = "agent@shibaclassic.example", "s3cret pass/word"
QUOTED = "agent%40shibaclassic.example:s3cret%20pass%2Fword"
ENV = ["AITO_MCP_SMTP_URL", "AITO_MCP_EMAIL_FROM", "AITO_MCP_IMAP_URL"]


def mail(
    uid: int, sender: str, subject: str, text: str, *, html: str = "", pdf: bytes = b""
) -> bytes:
    message = email.message.EmailMessage()
    message["From"], message["To"] = sender, USER
    message["Subject"], message["Message-ID"] = subject, f"<m{uid}@mail.example>"
    message["Date"] = f"Mon, 0{uid} Jun 2026 09:30:00 +0200"
    if html:
        message.set_content(html, subtype="html")
    else:
        message.set_content(text)
    if pdf:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename="bill.pdf")
    return message.as_bytes(policy=email.policy.SMTP)


MESSAGES = [
    mail(1, "Alice <alice@example.org>", "Old news", "Already read."),
    mail(2, "Bob <bob@example.net>", "Grant application", "Dear team,\n" + "word " * 600),
    mail(
        3,
        "Billing <billing@example.com>",
        "Invoice",
        "",
        html="<p>Please pay <b>42 EUR</b>.</p><script>steal()</script>",
        pdf=b"%PDF-1.4 fake",
    ),
]


def connector(*domains: str, recipients: list[str] | None = None) -> McpServer:
    return McpServer(
        command=["aito", "mcp", "serve", "email"],
        domains=list(domains or ["127.0.0.1"]),
        env=ENV,
        writes=True,
        recipients=recipients or [],
    )


def mail_org(server: McpServer, **mcp: Any) -> Callable[[Path], None]:
    """An org.yaml whose `mail` server is ``server``, the CMO's one server."""

    def edit(repo: Path) -> None:
        org_yaml = repo / "org" / "org.yaml"
        data = yaml.safe_load(org_yaml.read_text())
        entry = server.model_dump(mode="json", exclude_defaults=True)
        data["mcp"] = {**mcp, "servers": {"mail": entry}}
        org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
        edit_agent(repo, "cmo", lambda spec: spec.update(mcp_servers=["mail"]))

    return edit


def send_to(*to: str, text: str = "Thanks!") -> tuple[str, dict[str, Any]]:
    answer = {"to": list(to), "subject": "Re: Grant application", "text": text}
    return ("write__mail__send", {"arguments": answer, "summary": f"Answer {', '.join(to)}"})


def calls(server: McpServer, *wanted: tuple[str, dict[str, Any]]) -> list[hub.Outcome]:
    with hub.Hub({"mail": server}) as opened:
        tools = {t.name: t.read_only for t in opened.tools()}
        assert tools == {"send": False, "inbox": True, "message": True}
        return [opened.call("mail", tool, arguments) for tool, arguments in wanted]


def ok(outcome: hub.Outcome) -> dict[str, Any]:
    assert not outcome.is_error and outcome.structured is not None, outcome.text
    assert "s3cret" not in outcome.text
    return outcome.structured


@pytest.fixture
def imap(monkeypatch: pytest.MonkeyPatch) -> Iterator[ImapState]:
    with imap_server(user=USER, password=PASSWORD, mailboxes={"INBOX": MESSAGES}) as state:
        state.mailboxes["INBOX"][0].flags.add("\\Seen")
        monkeypatch.setenv("AITO_MCP_IMAP_URL", f"imap://{QUOTED}@127.0.0.1:{state.port}")
        monkeypatch.setenv("AITO_MCP_SMTP_URL", "smtp://127.0.0.1:1")
        monkeypatch.setenv("AITO_MCP_EMAIL_FROM", SENDER)
        yield state


def test_send_delivers_one_plain_text_message_and_returns_its_message_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AITO_MCP_EMAIL_FROM", SENDER)
    monkeypatch.setenv("AITO_MCP_IMAP_URL", "imap://127.0.0.1:1")
    with notify_servers.smtp_server() as (port, mails):
        monkeypatch.setenv("AITO_MCP_SMTP_URL", f"smtp://127.0.0.1:{port}")
        [sent] = calls(
            connector(),
            (
                "send",
                {
                    "to": ["alice@example.org", "bob@example.net", "alice@example.org"],
                    "subject": "Weekly report: 42 holders",
                    "text": "Hello,\n\nthe numbers are in.",
                },
            ),
        )
    answer = ok(sent)
    [received] = mails
    assert received.sender == "ops@shibaclassic.example"
    assert received.recipients == ["alice@example.org", "bob@example.net"]  # once each
    message = received.message
    assert message["From"] == SENDER and message["To"] == "alice@example.org, bob@example.net"
    assert message["Subject"] == "Weekly report: 42 holders"
    assert message["Message-ID"] == answer["message_id"]
    assert answer["message_id"].endswith("@shibaclassic.example>")
    assert message.get_content_type() == "text/plain" and not message.is_multipart()
    assert message.get_content().replace("\r\n", "\n") == "Hello,\n\nthe numbers are in.\n"
    assert answer["to"] == ["alice@example.org", "bob@example.net"] and answer["refused"] == []


def test_send_logs_in_after_starttls_with_the_url_s_user_and_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    certificate = notify_servers.self_signed()
    (tmp_path / "ca.pem").write_bytes(certificate.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # the system's trust
    monkeypatch.setenv("AITO_MCP_EMAIL_FROM", "ops@shibaclassic.example")
    monkeypatch.setenv("AITO_MCP_IMAP_URL", "imap://127.0.0.1:1")
    tls = certificate.server_context(tmp_path)
    with notify_servers.smtp_server(starttls=tls, login=(USER, PASSWORD)) as (port, mails):
        url = f"smtp+starttls://{QUOTED}@localhost:{port}"
        monkeypatch.setenv("AITO_MCP_SMTP_URL", url)
        [sent] = calls(
            connector("localhost"), ("send", {"to": ["a@example.org"], "subject": "S", "text": "T"})
        )
        monkeypatch.setenv("AITO_MCP_SMTP_URL", url.replace("%2Fword", "wrong"))
        [refused] = calls(
            connector("localhost"), ("send", {"to": ["a@example.org"], "subject": "S", "text": "T"})
        )
    ok(sent)
    [received] = mails  # aiosmtpd requires the login: accepted means logged in
    assert received.tls and received.recipients == ["a@example.org"]
    assert refused.is_error and "refused the login" in refused.text
    assert "AITO_MCP_SMTP_URL" in refused.text and "s3cret" not in refused.text


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"subject": "Hi\r\nBcc: victim@example.org"}, "one line"),
        ({"subject": "Hi\nX-Injected: yes"}, "one line"),
        ({"to": ["alice@example.org\r\nBcc: victim@example.org"]}, "not an e-mail address"),
        ({"to": ["not-an-address"]}, "not an e-mail address"),
        ({"to": [f"user{i}@example.org" for i in range(21)]}, "1 to 20"),
        ({"to": []}, "1 to 20"),
    ],
)
def test_send_refuses_header_injection_and_bad_recipients_before_connecting(
    arguments: dict[str, Any], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AITO_MCP_EMAIL_FROM", SENDER)
    monkeypatch.setenv("AITO_MCP_IMAP_URL", "imap://127.0.0.1:1")
    with notify_servers.smtp_server() as (port, mails):
        monkeypatch.setenv("AITO_MCP_SMTP_URL", f"smtp://127.0.0.1:{port}")
        given = {"to": ["alice@example.org"], "subject": "Hello", "text": "Hi."} | arguments
        [refused] = calls(connector(), ("send", given))
    assert refused.is_error and says in refused.text
    assert mails == []


def test_inbox_lists_the_newest_unseen_messages_and_marks_nothing_seen(
    imap: ImapState,
) -> None:
    unseen, everything, newest, again = calls(
        connector(),
        ("inbox", {}),
        ("inbox", {"unseen_only": False}),
        ("inbox", {"unseen_only": False, "limit": 1}),
        ("inbox", {}),
    )
    invoice, grant = ok(unseen)["messages"]  # newest first, the seen one left out
    assert (invoice["subject"], invoice["from"]) == ("Invoice", "Billing <billing@example.com>")
    assert invoice["message_id"] == "<m3@mail.example>" and invoice["to"] == USER
    assert invoice["date"] == "2026-06-03T09:30:00+02:00" and invoice["seen"] is False
    assert invoice["excerpt"] == "Please pay 42 EUR." and "steal" not in invoice["excerpt"]
    assert grant["excerpt"].startswith("Dear team,\nword word") and len(grant["excerpt"]) == 2000
    listed = ok(everything)["messages"]
    assert [(m["subject"], m["seen"]) for m in listed] == [
        ("Invoice", False),
        ("Grant application", False),
        ("Old news", True),
    ]
    assert [m["subject"] for m in ok(newest)["messages"]] == ["Invoice"]
    assert [m["subject"] for m in ok(again)["messages"]] == ["Invoice", "Grant application"]
    assert imap.logins == [(USER, PASSWORD)] * 4
    assert [m.flags for m in imap.mailboxes["INBOX"]] == [{"\\Seen"}, set(), set()]
    commands = [c.upper() for c in imap.commands]
    assert sum(c.startswith("EXAMINE ") for c in commands) == 4
    assert not any(c.startswith(("SELECT", "STORE", "UID STORE")) for c in commands)
    fetches = [c for c in commands if c.startswith("UID FETCH")]
    assert fetches and all(c.endswith("(BODY.PEEK[] FLAGS)") for c in fetches)


def test_a_message_by_its_message_id_with_its_text_and_attachments(imap: ImapState) -> None:
    found, bare, missing, malformed, folder = calls(
        connector(),
        ("message", {"message_id": "<m3@mail.example>"}),
        ("message", {"message_id": "m2@mail.example"}),
        ("message", {"message_id": "<nothing@mail.example>"}),
        ("message", {"message_id": '<x@y> "ALL'}),
        ("inbox", {"folder": "Archive"}),
    )
    invoice = ok(found)
    assert invoice["subject"] == "Invoice" and invoice["text"] == "Please pay 42 EUR."
    assert invoice["attachments"] == [
        {"filename": "bill.pdf", "content_type": "application/pdf", "size": 13}
    ]
    assert ok(bare)["text"].startswith("Dear team,") and ok(bare)["seen"] is False
    assert missing.is_error and "no message <nothing@mail.example>" in missing.text
    assert malformed.is_error and "not a Message-ID" in malformed.text
    assert folder.is_error and "no folder 'Archive'" in folder.text
    searches = [c for c in imap.commands if c.startswith("UID SEARCH HEADER")]
    assert searches[0] == 'UID SEARCH HEADER Message-ID "<m3@mail.example>"'
    assert len(searches) == 3  # the malformed id was never sent
    assert [m.flags for m in imap.mailboxes["INBOX"]] == [{"\\Seen"}, set(), set()]


def test_imaps_and_a_refused_login_and_a_host_not_allowed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    certificate = notify_servers.self_signed()
    (tmp_path / "ca.pem").write_bytes(certificate.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("AITO_MCP_SMTP_URL", "smtp://127.0.0.1:1")
    monkeypatch.setenv("AITO_MCP_EMAIL_FROM", SENDER)
    tls = certificate.server_context(tmp_path)
    with imap_server(user=USER, password=PASSWORD, mailboxes={"INBOX": MESSAGES}, tls=tls) as box:
        monkeypatch.setenv("AITO_MCP_IMAP_URL", f"imaps://{QUOTED}@localhost:{box.port}")
        [secure] = calls(connector("localhost"), ("inbox", {}))
        wrong = f"imaps://{USER}:hunter2@localhost:{box.port}"
        monkeypatch.setenv("AITO_MCP_IMAP_URL", wrong)
        [refused] = calls(connector("localhost"), ("inbox", {}))
        [elsewhere] = calls(connector("imap.example.org"), ("inbox", {}))
    assert len(ok(secure)["messages"]) == 3
    assert refused.is_error and "refused the login" in refused.text
    assert "AITO_MCP_IMAP_URL" in refused.text and "hunter2" not in refused.text
    assert (
        elsewhere.is_error and "localhost (AITO_MCP_IMAP_URL) is not an allowed" in elsewhere.text
    )
    assert box.logins == [(USER, PASSWORD), (USER, "hunter2")]  # nothing reached it after


def test_an_agent_reads_its_inbox_then_answers_once_the_dry_run_is_off(
    make_world,  # type: ignore[no-untyped-def]
    imap: ImapState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end through an agent's run: the CMO reads its inbox through the email
    connector (a turn), then answers a message as a checked write. Under `mcp.dry_run`
    nothing is sent and the would-be e-mail is recorded; once the organization turns the
    dry run off, the same answer is sent, once. The mailbox password reaches the mail
    server alone, never the model."""

    with_mail = mail_org(connector(recipients=["bob@example.net"]), dry_run=True)
    send = send_to("bob@example.net")
    answer = send[1]["arguments"]
    model = ScriptedModel([("mail__inbox", {})], [send])
    with notify_servers.smtp_server() as (port, mails):
        monkeypatch.setenv("AITO_MCP_SMTP_URL", f"smtp://127.0.0.1:{port}")
        world = make_world(model, edit=with_mail)
        dry = world.run("cmo", force=True)
        assert [(a.type, a.status) for a in dry.actions] == [("mcp_write", "dry_run")]
        assert mails == []
        [would] = world.events("world.would_write")
        assert would["payload"]["tool"] == "mail__send"
        assert would["payload"]["arguments"] == answer

        org_yaml = world.repo / "org" / "org.yaml"
        org_yaml.write_text(org_yaml.read_text().replace("dry_run: true", "dry_run: false"))
        git(world.repo, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", "live")
        model.plan([send])
        world.clock.advance(hours=1)
        live = world.run("cmo", key="2", force=True)
    assert [(a.type, a.status) for a in live.actions] == [("mcp_write", "executed")]
    [turn] = model.requests[1].turns
    assert "Grant application" in turn.results[0].content and not turn.results[0].is_error
    [record] = [e["payload"] for e in world.events("tool.called")]
    assert (record["server"], record["tool"], record["error"]) == ("mail", "inbox", None)
    [sent] = mails
    assert sent.recipients == ["bob@example.net"]
    assert sent.message["Subject"] == "Re: Grant application"
    assert imap.logins == [(USER, PASSWORD)]  # the one read, with the URL's password
    assert not any("s3cret" in request.model_dump_json() for request in model.requests)


def test_an_agent_e_mails_only_the_servers_listed_recipients(
    make_world,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The org lists whom `mail` may write to (`recipients`: an address and an
    @domain): an answer naming anyone else, even beside a listed recipient, is refused
    by the check, naming the address and where to list it, and never reaches the SMTP
    server; an answer to an address at the listed domain and the listed address is sent."""
    monkeypatch.setenv("AITO_MCP_EMAIL_FROM", SENDER)
    monkeypatch.setenv("AITO_MCP_IMAP_URL", "imap://127.0.0.1:1")
    server = connector(recipients=["board@shibaclassic.example", "@example.net"])
    model = ScriptedModel(
        [
            send_to("Bob@Example.net", "mallory@evil.example"),
            send_to("alice@sub.example.net"),  # a subdomain is not the domain
            send_to("bob@example.net", "board@shibaclassic.example", text="Thanks, Bob!"),
        ]
    )
    with notify_servers.smtp_server() as (port, mails):
        monkeypatch.setenv("AITO_MCP_SMTP_URL", f"smtp://127.0.0.1:{port}")
        world = make_world(model, edit=mail_org(server))
        outcome = world.run("cmo", force=True)
    stranger, subdomain, listed = outcome.actions
    for refused, address in ((stranger, "mallory@evil.example"), (subdomain, "alice@sub.")):
        assert refused.status == "refused", refused
        assert f"'{address}" in (refused.reason or "")
        assert "mcp.servers.mail.recipients" in (refused.reason or "")
    assert (listed.type, listed.status) == ("mcp_write", "executed"), listed.reason
    [sent] = mails
    assert sent.recipients == ["bob@example.net", "board@shibaclassic.example"]
    assert sent.message.get_content().strip() == "Thanks, Bob!"
    [written] = world.events("world.written")
    assert written["payload"]["tool"] == "mail__send"


def test_the_email_connector_with_no_recipients_listed_sends_to_nobody(
    make_world,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AITO's email connector sends nothing until the org lists its recipients: the
    refusal says where to list them, and nothing reaches the SMTP server."""
    monkeypatch.setenv("AITO_MCP_EMAIL_FROM", SENDER)
    monkeypatch.setenv("AITO_MCP_IMAP_URL", "imap://127.0.0.1:1")
    model = ScriptedModel([send_to("bob@example.net")])
    with notify_servers.smtp_server() as (port, mails):
        monkeypatch.setenv("AITO_MCP_SMTP_URL", f"smtp://127.0.0.1:{port}")
        world = make_world(model, edit=mail_org(connector()))
        outcome = world.run("cmo", force=True)
    [refused] = outcome.actions
    assert refused.status == "refused", refused
    assert "lists no recipients" in (refused.reason or "")
    assert "mcp.servers.mail.recipients" in (refused.reason or "")
    assert mails == [] and world.events("world.written") == []

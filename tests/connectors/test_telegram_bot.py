"""The telegram connector against a local server answering as Telegram's Bot API does
(`/bot<token>/<method>`, `{"ok": true, "result"}` or `{"ok": false, "error_code",
"description"}`), through the MCP SDK's client: what the bot reads is plain data, a chat's
member count is a fact, a message goes as plain text, and the token (in every URL) never
appears in a result, an error or the server's log."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.agent_world import ScriptedModel, edit_agent
from support.api_servers import Answer, Api, Request, Route, api, verbose_serve

from aito.org.mcp_servers import McpServer
from aito.toolbox import hub

TOKEN = "7204418230:AAHd-telegram-test-token_x9"
GROUP = {"id": -1001234567890, "title": "Shiba Classic", "type": "supergroup"}
UPDATES = [
    {
        "update_id": 901,
        "message": {
            "message_id": 55,
            "from": {"id": 42, "is_bot": False, "first_name": "Ana", "username": "ana_dev"},
            "chat": GROUP,
            "date": 1796000000,
            "text": "When is the next community call?",
        },
    },
    {
        "update_id": 902,
        "channel_post": {
            "message_id": 7,
            "chat": {"id": -1009876543210, "title": "Announcements", "type": "channel"},
            "date": 1796000100,
            "caption": "Roadmap, attached",
        },
    },
    {"update_id": 903, "my_chat_member": {"chat": GROUP, "date": 1796000200}},
]


def bot_api(queued: list[Answer]) -> Route:
    def route(request: Request) -> Answer:
        prefix = f"/bot{TOKEN}/"
        if not request.path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, {}
        if queued:
            return queued.pop(0)
        method = request.path.removeprefix(prefix)
        asked = request.query if request.method == "GET" else (request.body or {})
        if method == "getUpdates":
            offset = int(asked.get("offset", 0))
            return 200, {"ok": True, "result": [u for u in UPDATES if u["update_id"] >= offset]}, {}
        known = str(asked.get("chat_id")) in (str(GROUP["id"]), "@shibaclassic")
        if method in ("getChat", "getChatMemberCount", "sendMessage") and not known:
            bad = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            return 400, bad, {}
        if method == "getChat":
            return 200, {"ok": True, "result": {**GROUP, "description": "Community chat"}}, {}
        if method == "getChatMemberCount":
            return 200, {"ok": True, "result": 4321}, {}
        if method == "sendMessage":
            sent = {"message_id": 77, "date": 1796000300, "chat": GROUP, "text": asked["text"]}
            return 200, {"ok": True, "result": sent}, {}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, {}

    return route


@pytest.fixture
def queued() -> list[Answer]:
    return []


@pytest.fixture
def telegram(monkeypatch: pytest.MonkeyPatch, queued: list[Answer]) -> Iterator[Api]:
    with api(bot_api(queued)) as served:
        monkeypatch.setenv("AITO_MCP_TELEGRAM_URL", served.url())
        monkeypatch.setenv("AITO_MCP_TELEGRAM_TOKEN", TOKEN)
        yield served


def entry(log: Path | None = None) -> McpServer:
    """The server's entry; with ``log``, run as verbose as it gets, its stderr kept there."""
    return McpServer(
        command=verbose_serve("telegram", log) if log else ["aito", "mcp", "serve", "telegram"],
        domains=["127.0.0.1"],
        env=["AITO_MCP_TELEGRAM_URL", "AITO_MCP_TELEGRAM_TOKEN"],
        writes=True,
    )


def shown(outcome: hub.Outcome) -> str:
    """Everything a tool result shows the model."""
    return outcome.text + json.dumps(outcome.structured)


def test_updates_and_chats_are_plain_data_and_members_a_fact(telegram: Api) -> None:
    with hub.Hub({"tg": entry()}) as opened:
        reads = {t.name for t in opened.tools() if t.read_only}
        writes = {t.name for t in opened.tools() if not t.read_only}
        first = opened.call("tg", "updates", {})
        later = opened.call("tg", "updates", {"offset": 902, "limit": 500})
        chat = opened.call("tg", "chat", {"chat_id": "@shibaclassic"})
    assert (reads, writes) == ({"updates", "chat"}, {"send_message"})
    assert first.structured is not None and not first.is_error, first.text
    message, post = first.structured["messages"]
    assert message == {
        "update_id": 901,
        "kind": "message",
        "message_id": 55,
        "chat_id": -1001234567890,
        "chat_title": "Shiba Classic",
        "from": "ana_dev",
        "date": "2026-11-30T00:53:20+00:00",
        "text": "When is the next community call?",
    }
    assert (post["kind"], post["chat_title"], post["from"]) == (
        "channel_post",
        "Announcements",
        None,
    )
    assert post["text"] == "Roadmap, attached"  # a caption is the text
    assert first.structured["next_offset"] == 904  # past the update that is no message
    assert later.structured is not None and len(later.structured["messages"]) == 1
    get_updates, get_later = telegram.received[:2]
    assert (get_updates.method, get_updates.path) == ("GET", f"/bot{TOKEN}/getUpdates")
    assert get_updates.query == {"limit": "50"}
    assert get_later.query == {"limit": "100", "offset": "902"}  # Telegram's maximum

    assert chat.structured is not None, chat.text
    assert chat.structured["chat"]["title"] == "Shiba Classic"
    [fact] = chat.structured["facts"]
    assert (fact["id"], fact["value"]) == ("members.-1001234567890", 4321)
    assert fact["source"].startswith(telegram.url())
    assert [(r.path, r.query) for r in telegram.received[2:]] == [
        (f"/bot{TOKEN}/getChat", {"chat_id": "@shibaclassic"}),
        (f"/bot{TOKEN}/getChatMemberCount", {"chat_id": "@shibaclassic"}),
    ]
    for outcome in (first, later, chat):
        assert TOKEN not in shown(outcome) and "/bot" not in shown(outcome)


def test_send_message_posts_plain_text_and_returns_its_id(telegram: Api) -> None:
    text = "Community call: Thursday 18:00 UTC. *Not bold*, <b>not html</b>."
    with hub.Hub({"tg": entry()}) as opened:
        sent = opened.call("tg", "send_message", {"chat_id": -1001234567890, "text": text})
    assert sent.structured is not None and not sent.is_error, sent.text
    assert (sent.structured["message_id"], sent.structured["chat_id"]) == (77, -1001234567890)
    [request] = telegram.received
    assert (request.method, request.path) == ("POST", f"/bot{TOKEN}/sendMessage")
    assert request.headers["content-type"] == "application/json"
    assert request.body == {"chat_id": -1001234567890, "text": text}  # no parse_mode
    assert TOKEN not in shown(sent)


def test_refusals_are_clear_errors_that_never_show_the_token(
    telegram: Api, queued: list[Answer], tmp_path: Path
) -> None:
    flood = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    queued.append((429, flood, {"Retry-After": "7"}))
    log = tmp_path / "server.log"
    with hub.Hub({"tg": entry(log)}) as opened:
        limited = opened.call("tg", "send_message", {"chat_id": "@shibaclassic", "text": "hi"})
        unknown = opened.call("tg", "chat", {"chat_id": -100111})
        empty = opened.call("tg", "send_message", {"chat_id": "@shibaclassic", "text": "  "})
        not_a_chat = opened.call("tg", "chat", {"chat_id": "https://t.me/x"})
    assert limited.is_error and "Too Many Requests" in limited.text
    assert "try again in 7 s" in limited.text
    assert unknown.is_error and "getChat refused (HTTP 400): Bad Request: chat not found" in (
        unknown.text
    )
    assert empty.is_error and "empty" in empty.text
    assert not_a_chat.is_error and "not a chat" in not_a_chat.text
    assert len(telegram.received) == 2  # the bad input never reached Telegram
    for outcome in (limited, unknown, empty, not_a_chat):
        assert TOKEN not in shown(outcome)
    logged = log.read_text()
    assert "sendMessage" in logged and TOKEN not in logged  # nor in the server's log


def test_a_wrong_token_or_an_unreachable_api_is_named_without_the_token(
    telegram: Api, tmp_path: Path
) -> None:
    with hub.Hub(
        {"tg": entry()}, environ={**os.environ, "AITO_MCP_TELEGRAM_TOKEN": "1:wrong"}
    ) as bad:
        refused = bad.call("tg", "updates", {})
    down = {**os.environ, "AITO_MCP_TELEGRAM_URL": "http://127.0.0.1:9"}  # nothing listens there
    with hub.Hub({"tg": entry(tmp_path / "server.log")}, environ=down) as opened:
        unreachable = opened.call("tg", "send_message", {"chat_id": -1001234567890, "text": "hi"})
    assert refused.is_error and "Unauthorized (check AITO_MCP_TELEGRAM_TOKEN)" in refused.text
    assert "1:wrong" not in refused.text
    assert unreachable.is_error and "could not be reached" in unreachable.text
    assert TOKEN not in unreachable.text and "[secret]" in unreachable.text
    assert TOKEN not in (tmp_path / "server.log").read_text()


def test_an_agent_reads_its_group_then_greets_it_citing_the_member_count(
    make_world,  # type: ignore[no-untyped-def]
    telegram: Api,
) -> None:
    """End to end through an agent's run: the CMO reads its group through the telegram
    connector (a turn: the member count is a fact), then sends a message stating that
    number as a checked write citing the fact; the same number unsourced is refused and
    never sent, and the token goes to Telegram alone, never to the model."""

    def with_telegram(repo: Path) -> None:
        org_yaml = repo / "org" / "org.yaml"
        data = yaml.safe_load(org_yaml.read_text())
        data["mcp"] = {"servers": {"tg": entry().model_dump(mode="json", exclude_defaults=True)}}
        org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
        edit_agent(repo, "cmo", lambda spec: spec.update(mcp_servers=["tg"]))

    text = "4,321 of us here now. Welcome, everyone!"
    send = {"arguments": {"chat_id": "@shibaclassic", "text": text}, "summary": "Greet the group"}
    members = "tg.members.-1001234567890"
    unsourced = {"chat_id": "@shibaclassic", "text": "Soon 5,000 of us!"}
    model = ScriptedModel(
        [("tg__chat", {"chat_id": "@shibaclassic"})],
        [
            ("write__tg__send_message", {**send, "cites": [members]}),
            ("write__tg__send_message", {"arguments": unsourced, "summary": "Hype the group"}),
        ],
    )
    world = make_world(model, edit=with_telegram)
    outcome = world.run("cmo", force=True)
    cited, refused = outcome.actions
    assert (cited.type, cited.status) == ("mcp_write", "executed"), cited.reason
    assert refused.status == "refused" and "without citing" in (refused.reason or "")
    [turn] = model.requests[1].turns
    assert members in turn.results[0].content  # the fact, named as it is cited
    [record] = [e["payload"] for e in world.events("tool.called")]
    assert (record["server"], record["tool"], record["error"]) == ("tg", "chat", None)
    [sent] = [r for r in telegram.received if r.path.endswith("/sendMessage")]
    assert (sent.method, sent.body) == ("POST", {"chat_id": "@shibaclassic", "text": text})
    assert len(telegram.received) == 3  # getChat, getChatMemberCount, one sendMessage
    assert all(r.path.startswith(f"/bot{TOKEN}/") for r in telegram.received)
    assert not any(TOKEN in request.model_dump_json() for request in model.requests)


def test_an_agent_sends_to_a_chat_by_its_numeric_id_without_citing_it(
    make_world,  # type: ignore[no-untyped-def]
    telegram: Api,
) -> None:
    """A chat's id is no number the message states: the CMO sends a digit-free text to
    its group by its numeric id, citing nothing, and it goes out. A number in the text
    still needs its fact, and prose planted in the `chat_id` ("Holders 12,345") counts as
    published text too: both refused, neither reaches Telegram."""

    def with_telegram(repo: Path) -> None:
        org_yaml = repo / "org" / "org.yaml"
        data = yaml.safe_load(org_yaml.read_text())
        data["mcp"] = {"servers": {"tg": entry().model_dump(mode="json", exclude_defaults=True)}}
        org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
        edit_agent(repo, "cmo", lambda spec: spec.update(mcp_servers=["tg"]))

    def send(chat_id: int | str, text: str) -> tuple[str, dict[str, object]]:
        arguments = {"chat_id": chat_id, "text": text}
        return ("write__tg__send_message", {"arguments": arguments, "summary": "Tell the group"})

    greeting = "The community call starts in an hour: bring your questions!"
    model = ScriptedModel(
        [
            send(GROUP["id"], greeting),
            send(GROUP["id"], "We are 5,000 strong now!"),
            send("Holders 12,345", "Big news for holders"),
        ]
    )
    world = make_world(model, edit=with_telegram)
    outcome = world.run("cmo", force=True)
    sent, numbered, planted = outcome.actions
    assert (sent.type, sent.status) == ("mcp_write", "executed"), sent.reason
    for refused in (numbered, planted):
        assert refused.status == "refused" and "without citing" in (refused.reason or "")
    [request] = telegram.received
    assert (request.path, request.body) == (
        f"/bot{TOKEN}/sendMessage",
        {"chat_id": -1001234567890, "text": greeting},
    )

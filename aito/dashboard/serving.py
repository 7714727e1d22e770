"""Serve the dashboard with uvicorn (the one place that imports it)."""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette


def serve(app: Starlette, *, host: str, port: int, log_level: str = "warning") -> None:
    """Serve until interrupted (Ctrl-C, SIGTERM)."""
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)

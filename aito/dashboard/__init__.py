"""The web dashboard: read-only pages over the views, server-rendered (Starlette, Jinja2).

Starlette and uvicorn are imported in this package only (an import-linter contract).
Pages: Organization (/), Agent (/agents/ID), Run (/runs/ID), Decisions (/decisions,
/decisions/ID), Tasks (/tasks), Workers (/workers, /workers/ID), Events (/events),
Costs (/costs). Live updates (server-sent events) and their DOM hooks: :mod:`.live`.
"""

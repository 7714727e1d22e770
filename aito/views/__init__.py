"""Read models shared by the CLI and the dashboard: what each listing shows, computed once.

Every function here reads through the ports in :mod:`aito.views.ports` (the memory's
pages, the budget ledger's reservations, the organization) and returns pydantic models;
none writes. The CLI prints them, the dashboard renders them: the same numbers from the
same code.
"""

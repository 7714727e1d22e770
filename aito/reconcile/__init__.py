"""The orchestrator: an always-on reconciler (observe → plan → apply).

:mod:`~aito.reconcile.observed` is what one pass sees (data), :mod:`~aito.reconcile.steps`
what it may do (each step keyed, so applying it twice does it once), and
:mod:`~aito.reconcile.planning` the pure function from (organization, observed, now) to
steps: no I/O, no clock of its own, table- and property-tested like the governance engine.
"""

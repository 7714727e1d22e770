"""Where agents and workers run: in-process, or in Docker containers.

:mod:`~aito.runtime.base` is the port (start, wait, stop, logs, list by labels);
:mod:`~aito.runtime.inprocess` runs "containers" as threads (the demo, most tests) and
:mod:`~aito.runtime.docker_engine` as real containers (the only module importing the
docker SDK). :mod:`~aito.runtime.specs` turns the org files into container specs (limits,
labels, hardening), :mod:`~aito.runtime.reaping` removes what a crashed launcher left.

The trusted side: :mod:`~aito.runtime.launching` (`aito agent run` with
`AITO_RUNTIME=docker`) starts the agent's run in a container and serves it a
:mod:`~aito.runtime.gateway` on a Unix socket: model calls (budget reserved before and
settled after, here, with the key here) and worker requests. Workers
(:mod:`~aito.runtime.sandbox`) get no credentials and no network at all: only the socket,
through which they ask the model and hand back their answer as data, which the trusted
side checks and applies.
"""

"""The trusted launcher: an agent's wake-up in a container (`AITO_RUNTIME=docker`).

`aito agent run ID` on a runner starts ``aito agent run ID --run-id RUN`` in a container
of the AITO image and waits. What the container gets, and why (:meth:`Launcher.env`):

- ``POSTGRES_URL``, ``REDIS_URL``: the run reads and writes its memory, history, inbox and
  tasks (the same services the launcher uses, at the same addresses: agent containers
  share the runner's network by default, `AITO_AGENT_NETWORK`);
- on GitHub, ``AITO_GITHUB_TOKEN_<AGENT>``: an installation token of the agent's own App
  (minted here, valid for an hour; never the App's private key, never another agent's
  token, never the governance token), and ``AITO_GITHUB_API_URL``;
- with the local forge, the governance repo and the forge's store, mounted read-write
  (on GitHub the checkout is mounted read-only: the run reads its organization from it);
- with ``AITO_EMBEDDINGS=http``, that endpoint's settings and key: the run embeds its
  own history and recall queries;
- ``AITO_MODEL_GATEWAY``: the gateway's socket, for model calls and workers. The model
  key stays here: the gateway reserves each call's budget before forwarding it and
  settles it after (:mod:`~aito.runtime.model_gate`), so the budget is enforced outside
  the agent; a worker the agent asks for is started from here (:mod:`~aito.runtime.sandbox`).

Idempotence holds across the boundary: the run id is chosen here and passed in, so a
killed launcher or container leaves an unfinished run in Postgres that the next start of
the same wake-up resumes (no duplicate PR, message, task or history row); the container
it left behind is reaped first (:mod:`~aito.runtime.reaping`). A run that has finished is
reported without starting a container.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Callable
from pathlib import Path

from aito.agent import delegating, executing, finishing, runs
from aito.agent.ports import LoopPorts
from aito.bus import keys, leasing
from aito.llm.base import Model
from aito.memory import base as memory_base
from aito.org import loading
from aito.runtime import gateway, protocol, reaping, relay, sandbox, specs, tool_gate
from aito.runtime.base import ContainerSpec, Exit, Mount, Runtime
from aito.runtime.model_gate import ModelGate
from aito.settings import agent_env_suffix
from aito.toolbox import hub

log = logging.getLogger(__name__)
REPO = "/aito/repo"
DATA = f"{specs.TMP}/aito"
"""The run's data directory on GitHub: in its own tmpfs (nothing in it outlives the run)."""
LOCAL_DATA = "/aito/data"
"""With the local forge: the launcher's data directory, shared (its stores and repos)."""
CONTAINER_USER = "10001:10001"
"""The image's own user: what containers run as when the launcher itself is root."""


@dataclasses.dataclass(frozen=True)
class Reach:
    """What an agent's container may reach (see the module docstring for why)."""

    postgres_url: str
    redis_url: str
    forge: str
    repo: Path
    data_dir: Path
    model_provider: str
    github_api_url: str | None = None
    embeddings: tuple[tuple[str, str], ...] = ()


def container_user() -> str:
    """The launcher's own user when it is not root (the runner user: files stay its own),
    else the image's unprivileged user."""
    uid, gid = os.getuid(), os.getgid()
    return f"{uid}:{gid}" if uid > 0 and gid > 0 else CONTAINER_USER


@dataclasses.dataclass
class Launcher:
    runtime: Runtime
    ports: LoopPorts
    org: loading.Organization
    model: Model
    image: str
    network: str
    reach: Reach
    agent_token: Callable[[str], str | None] = lambda _agent: None
    """The agent's own GitHub token (on GitHub; minted from its App when it has one)."""
    user: str = dataclasses.field(default_factory=container_user)
    worker_command: list[str] | None = None
    _spawned: dict[str, list[runs.RunOutcome]] = dataclasses.field(default_factory=dict)
    _daemons: dict[str, contextlib.ExitStack] = dataclasses.field(default_factory=dict)
    frozen_clock: bool = False
    """Hand the launcher's clock to the run as its fixed "now" (`aito demo`'s simulated
    day); a runner's launcher never does: its runs read the real time."""

    def run(
        self, agent_id: str, *, trigger: str, run_id: str, force: bool = False
    ) -> runs.RunOutcome:
        """One wake-up of ``agent_id`` in a container (what `aito agent run` does here)."""
        memory = self.ports.memory
        found = memory.run_record(run_id)
        if found is not None and found["status"] in memory_base.TERMINAL_RUN_STATUSES:
            return finishing.reported(found, self.ports)
        self.reap()
        with contextlib.ExitStack() as stack:
            directory = self._serve(agent_id, stack)
            spec = self.spec(
                agent_id, trigger=trigger, run_id=run_id, force=force, gateway_dir=directory
            )
            handle = self.runtime.start(spec)
            log.info("%s: started %s (%s)", run_id, spec.name, self.image)
            try:
                ended = self.runtime.wait(handle, timeout_seconds=spec.timeout_seconds)
            finally:
                self.runtime.stop(handle)
                self.free_lock(agent_id, run_id)
        return self._outcome(agent_id, trigger=trigger, run_id=run_id, spec=spec, ended=ended)

    def start_daemon(self, agent_id: str) -> str:
        """Start (or start again) the agent's daemon container (`wake: daemon`), with a
        gateway this launcher keeps serving for it until :meth:`stop_daemons`."""
        old = self._daemons.pop(agent_id, None)
        if old is not None:
            old.close()
        self.runtime.stop(specs.daemon_name(agent_id))  # the dead one, if still there
        stack = contextlib.ExitStack()
        try:
            directory = self._serve(agent_id, stack)
            spec = specs.daemon_container(
                self.org,
                agent_id=agent_id,
                image=self.image,
                env=self.env(agent_id),
                mounts=self.mounts(directory),
                network=self.network,
                user=self.user,
                launcher=reaping.launcher_id(),
            )
            handle = self.runtime.start(spec)
        except BaseException:
            stack.close()
            raise
        self._daemons[agent_id] = stack
        log.info("%s: started its daemon %s", agent_id, spec.name)
        return handle

    def stop_daemons(self) -> None:
        """Stop every daemon this launcher started, and their gateways."""
        for agent_id, stack in list(self._daemons.items()):
            self.runtime.stop(specs.daemon_name(agent_id))
            stack.close()
        self._daemons.clear()

    def _serve(self, agent_id: str, stack: contextlib.ExitStack) -> Path:
        """The agent's gateway (and the database relay, for an embedded Postgres)."""
        routes = gateway.Routes(
            model=ModelGate(self.ports, self.org, agent_id=agent_id, model=self.model),
            workers=lambda ask: self._worker(agent_id, ask),
        )
        servers = hub.servers_of(self.org.org.mcp.servers, self.org.agents[agent_id].mcp_servers)
        if servers:  # its MCP servers run here, with their secrets; the container reads
            gate = tool_gate.ToolGate(
                self.ports, self.org, agent_id=agent_id, tools=stack.enter_context(hub.Hub(servers))
            )
            routes.tools_list = gate.list
            routes.tools_call = gate.call
            routes.tools_write = gate.write
        other = gateway.is_another_user(self.user)
        directory = stack.enter_context(gateway.serving(routes, for_another_user=other))
        database = relay.socket_of(self.reach.postgres_url)
        if database is not None:  # an embedded Postgres: its socket, relayed
            mode = gateway.socket_mode(for_another_user=other)
            stack.enter_context(relay.relaying(database, directory=directory, mode=mode))
        return directory

    def reap(self) -> None:
        """Remove what crashed launchers left, and free the run locks their containers
        held: a killed container renews nothing, but its lock would make the next run of
        the agent wait for it to expire (the holder's pid means nothing out here)."""
        for found in reaping.reap(
            self.runtime, org=specs.org_label(self.org), now=dt.datetime.now(dt.UTC)
        ):
            agent_id = found.labels.get(specs.AGENT, "")
            if found.labels.get(specs.KIND) == "agent" and agent_id in self.org.agents:
                self.free_lock(agent_id, found.labels.get(specs.RUN, ""))

    def free_lock(self, agent_id: str, run_id: str) -> None:
        """Free the agent's run lock if the run of a container that is gone still holds it
        (killed at its timeout or memory limit, or reaped)."""
        name = keys.container_lock(agent_id)
        held = self.ports.bus.lock_holder(name)
        holder = leasing.Holder.of(held[0]) if held else None
        if held and holder is not None and holder.owner == run_id:
            self.ports.bus.unlock(name, held[0])

    def spec(
        self, agent_id: str, *, trigger: str, run_id: str, force: bool, gateway_dir: Path
    ) -> ContainerSpec:
        command = ["aito", "agent", "run", agent_id, "--trigger", trigger, "--run-id", run_id]
        if force:
            command.append("--force")
        return specs.agent_container(
            self.org,
            agent_id=agent_id,
            run_id=run_id,
            image=self.image,
            command=command,
            env=self.env(agent_id),
            mounts=self.mounts(gateway_dir),
            network=self.network,
            user=self.user,
            launcher=reaping.launcher_id(),
            now=dt.datetime.now(dt.UTC),  # containers live in real time
        )

    def env(self, agent_id: str) -> dict[str, str]:
        reach = self.reach
        env = {
            "AITO_RUNTIME": "inprocess",  # inside, the run runs right there
            "AITO_MODEL_GATEWAY": specs.GATEWAY_SOCKET,
            "AITO_MODEL": reach.model_provider,
            "AITO_REPO": REPO,
            "AITO_DATA_DIR": LOCAL_DATA if reach.forge == "local" else DATA,
            "AITO_FORGE": reach.forge,
            "POSTGRES_URL": self.postgres_url(),
            "REDIS_URL": reach.redis_url,
            "HOME": specs.TMP,
            "PYTHONUNBUFFERED": "1",
            # the mounted repo belongs to the runner's user, not the container's
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "safe.directory",
            "GIT_CONFIG_VALUE_0": "*",
        }
        if reach.forge == "github":
            env["AITO_GITHUB_API_URL"] = reach.github_api_url or "https://api.github.com"
            token = self.agent_token(agent_id)
            if token:
                env[f"AITO_GITHUB_TOKEN_{agent_env_suffix(agent_id)}"] = token
        env.update(dict(reach.embeddings))
        if self.frozen_clock:
            env["AITO_NOW"] = self.ports.clock().isoformat()
        if self.ports.dry_run:
            env["AITO_DRY_RUN"] = "1"
        return env

    def postgres_url(self) -> str:
        """The URL as the container reaches it: through the relay for a socket."""
        url = self.reach.postgres_url
        return url if relay.socket_of(url) is None else relay.through(url, specs.GATEWAY_DIR)

    def mounts(self, gateway_dir: Path) -> list[Mount]:
        reach = self.reach
        found = [Mount(source=str(gateway_dir), target=specs.GATEWAY_DIR, read_only=True)]
        if reach.forge != "local":
            # the checkout, to read; the data directory stays the run's own (its tmpfs)
            found.append(Mount(source=str(reach.repo), target=REPO, read_only=True))
            return found
        # The local forge (the demo, development): its repos and stores are written by the
        # run, so the repo and the data directory are shared with the container.
        for name in ("forge", "repos"):
            (reach.data_dir / name).mkdir(parents=True, exist_ok=True)
        for key in self.org.org.repos:
            # made here, so they are the launcher's (git refuses a repo someone else owns)
            self.ports.repo_forge(key)
        found.append(Mount(source=str(reach.repo), target=REPO, read_only=False))
        found.append(Mount(source=str(reach.data_dir), target=LOCAL_DATA, read_only=False))
        if self.user == CONTAINER_USER:
            _open_to_others(reach)
        return found

    def _worker(self, agent_id: str, ask: protocol.WorkerAsk) -> protocol.WorkerReply:
        """A worker the agent's run asked for: checked again here (the container is not
        trusted to have checked it), then run with its thinking sandboxed."""
        spec = self.org.agents[agent_id]
        if ask.kind not in spec.workers:
            raise gateway.Refusal(403, f"{agent_id} may not spawn {ask.kind!r} workers")
        record = self.ports.memory.run_record(ask.requester_run)
        if record is None or record["agent_id"] != agent_id or record["status"] != "running":
            raise gateway.Refusal(403, f"{ask.requester_run!r} is not a running run of {agent_id}")
        request = executing.WorkerRequest(
            requester=agent_id,
            requester_run=ask.requester_run,
            position=ask.position,
            kind=ask.kind,
            task=ask.task,
            instructions=ask.instructions,
        )
        outcome = self.workers()(ask.kind, delegating.worker_run_id(request), request)
        self._spawned.setdefault(ask.requester_run, []).append(outcome)
        return protocol.WorkerReply(outcome=outcome.as_json())

    def workers(self) -> sandbox.SandboxWorkers:
        """The agent's workers, run here, each thinking in a sandbox."""
        return sandbox.SandboxWorkers(
            ports=self.ports,
            runtime=self.runtime,
            image=self.image,
            user=self.user,
            command=list(self.worker_command or sandbox.WORKER_COMMAND),
        )

    def _outcome(
        self, agent_id: str, *, trigger: str, run_id: str, spec: ContainerSpec, ended: Exit
    ) -> runs.RunOutcome:
        memory = self.ports.memory
        record = memory.run_record(run_id)
        if record is None:  # the container ended before the run began
            return runs.RunOutcome(
                run_id=run_id,
                agent_id=agent_id,
                trigger=trigger,
                status="failed" if ended.status == "exited" else ended.status,
                error=f"the container ended ({ended.status}, exit code {ended.exit_code}) before "
                f"the run began: {ended.logs[-1500:].strip()}",
            )
        memory.record_container(run_id, container=specs.container_record(spec, ended))
        if ended.status in ("timed_out", "oom_killed") and record["status"] == "running":
            what = "ran past its timeout" if ended.status == "timed_out" else "ran out of memory"
            if record.get("actions") is None:
                # nothing of it ran: it ends here, as what it was
                memory.finish_run(
                    run_id,
                    status=ended.status,
                    at=self.ports.clock(),
                    summary=f"killed: its container {what}",
                    error=f"its container {what} and was killed",
                )
            # else its plan had begun: the next wake-up finishes it (exactly once)
            record = memory.run_record(run_id) or record
        outcome = finishing.reported(record, self.ports)
        outcome.repeated = False
        outcome.workers = self._spawned.pop(run_id, [])
        if ended.status != "exited" and outcome.status == "running":
            outcome.status = ended.status
        return outcome


def _open_to_others(reach: Reach) -> None:
    """A root launcher (the demo, tests) with the local forge: the container's unprivileged
    user must write the repo, the forge's stores and repos, and create files in the data
    directory. Those are made writable to it; the databases' own directories keep their
    modes. A runner's launcher is not root: its containers run as its own user, and this
    is never done there."""
    data = reach.data_dir
    data.chmod(data.stat().st_mode | 0o777)
    for top in (reach.repo, data / "forge", data / "repos"):
        for root, dirs, files in os.walk(top):
            here = Path(root)
            dirs[:] = [d for d in dirs if here / d != data]  # a data directory in the repo
            here.chmod(here.stat().st_mode | 0o777)
            for name in files:
                path = here / name
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode | 0o666)

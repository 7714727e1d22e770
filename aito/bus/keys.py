"""Every Redis key name AITO uses, in one place (the seed's key layout).

agent:status:{id}          hash: status, last_heartbeat, container_id, run_id
agents:registry            hash: agent id -> definition hash (who exists)
channel:broadcast          all agents
channel:head               CEO + DAO
channel:clevel             C-level agents
channel:agent:{id}         one agent
queue:tasks:{id}           an agent's pending tasks
queue:urgent               high-priority, cross-department
ratelimit:claude:{id}      model rate limit per agent
lock:decision:{id}         a decision being processed
lock:container:{id}        an agent's container being started or stopped
"""

from __future__ import annotations

PREFIX = ""  # tests and shared servers may namespace every key (see RedisBus(prefix=...))

AGENTS_REGISTRY = "agents:registry"
CHANNEL_BROADCAST = "channel:broadcast"
CHANNEL_HEAD = "channel:head"
CHANNEL_CLEVEL = "channel:clevel"
QUEUE_URGENT = "queue:urgent"


def agent_status(agent_id: str) -> str:
    return f"agent:status:{agent_id}"


def agent_channel(agent_id: str) -> str:
    return f"channel:agent:{agent_id}"


def agent_stream(agent_id: str) -> str:
    return f"stream:agent:{agent_id}"


def task_queue(agent_id: str) -> str:
    return f"queue:tasks:{agent_id}"


def rate_limit(agent_id: str) -> str:
    return f"ratelimit:claude:{agent_id}"


def decision_lock(decision_id: str) -> str:
    return f"lock:decision:{decision_id}"


def container_lock(agent_id: str) -> str:
    return f"lock:container:{agent_id}"


GROUP_CHANNELS = {"all": CHANNEL_BROADCAST, "head": CHANNEL_HEAD, "clevel": CHANNEL_CLEVEL}

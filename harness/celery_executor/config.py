"""What a node tells its prefork children about itself, through one environment variable."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

NODE_ENV = "MEMHARNESS_NODE"
BROKER_ENV = "MEMHARNESS_BROKER_URL"
"""The broker URL, passed to nodes and Celery in the environment, never on a command line."""
CELERY_CONF_ENV = "MEMHARNESS_CELERY_CONF"
"""The Celery settings a node's settings set (``task_acks_late`` ...), as JSON."""
NODE_COMMAND = "memharness_node"
"""The remote control command a node answers about its memory (``control``)."""
QUEUE = "memharness"
"""The queue every memharness task goes to and every node consumes."""


@dataclass(frozen=True)
class NodeConfig:
    """A node's S3 endpoint, temp root and limits, set by ``memharness worker``."""

    tmp_root: str
    """Every task's temp dir is made here; a task never names a path of its own."""
    endpoint_url: str | None
    region: str
    service_endpoints: dict[str, str] = field(default_factory=dict)
    memory_limit_bytes: int | None = None
    """The cap of the whole node (main process and children), or None."""
    cap_enforcement: str | None = None
    max_memory_per_child_kib: int | None = None

    def to_env(self) -> str:
        return json.dumps(asdict(self))


def node_config() -> NodeConfig:
    """The config the node's supervisor put in the environment; KeyError outside a node."""
    data = json.loads(os.environ[NODE_ENV])
    return NodeConfig(**data)

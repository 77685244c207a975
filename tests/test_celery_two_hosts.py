"""Two worker nodes as two hosts: each in a network namespace of its own, joined to the
coordinator's by a veth pair on a private bridge (10.203.0.0/24), so their traffic to the broker
and to S3 crosses a network interface, not loopback, and reaches nothing else. The namespaces
share this machine's process and file namespaces: separate hosts on the network only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memharness_s3.execution.celery.broker import launched_redis
from memharness_s3.s3.backends.launcher import free_port, stop_process_group

from .conftest import serving, wait_until

BRIDGE_IP = "10.203.0.1"
SUBNET = 24


def _can_make_namespaces() -> bool:
    return (
        os.geteuid() == 0
        and shutil.which("ip") is not None
        and shutil.which("redis-server") is not None
    )


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not _can_make_namespaces(),
        reason="needs root, iproute2's ip and redis-server to make two hosts",
    ),
]


def _read(logs: list[Path]) -> str:
    return "".join(log.read_text(errors="replace") for log in logs if log.exists())


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture()
def two_hosts() -> Iterator[list[str]]:
    """Two network namespaces on a bridge with this one; their names."""
    tag = f"mh{os.getpid() % 100000}"
    bridge = f"{tag}br"
    hosts = [f"{tag}-host{i}" for i in (1, 2)]
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{BRIDGE_IP}/{SUBNET}", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for index, host in enumerate(hosts, start=1):
            outside, inside = f"{tag}v{index}", f"{tag}p{index}"
            _ip("netns", "add", host)
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", host)
            _ip("link", "set", outside, "master", bridge, "up")
            _ip("-n", host, "addr", "add", f"10.203.0.{index + 1}/{SUBNET}", "dev", inside)
            _ip("-n", host, "link", "set", inside, "up")
            _ip("-n", host, "link", "set", "lo", "up")
        yield hosts
    finally:
        for index, host in enumerate(hosts, start=1):
            subprocess.run(["ip", "netns", "del", host], capture_output=True, timeout=30)
            subprocess.run(["ip", "link", "del", f"{tag}v{index}"], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, timeout=30)


def test_two_hosts_both_take_tasks_and_rows_name_their_node(
    two_hosts: list[str], tmp_path: Path
) -> None:
    """moto's server and Redis listen on the bridge only; `memharness worker` runs in each
    namespace as a user would start it on another machine; `run --nodes 0` uses them."""
    port = free_port()
    endpoint = f"http://{BRIDGE_IP}:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    env = {**os.environ, **credentials}
    moto = [sys.executable, "-m", "moto.server", "-H", BRIDGE_IP, "-p", str(port)]
    nodes: list[subprocess.Popen[bytes]] = []
    with (
        launched_redis(tmp_path / "redis.log", bind=BRIDGE_IP) as (broker, _pid),
        serving(moto, endpoint, tmp_path / "moto.log", env=env),
    ):
        try:
            for index, host in enumerate(two_hosts, start=1):
                log = open(tmp_path / f"host{index}.log", "wb")  # noqa: SIM115 - closed below
                nodes.append(
                    subprocess.Popen(
                        [
                            "ip",
                            "netns",
                            "exec",
                            host,
                            sys.executable,
                            "-m",
                            "memharness_s3.cli",
                            "worker",
                            "--name",
                            f"host{index}@{host}",
                            "--endpoint-url",
                            endpoint,
                        ],
                        env={**env, "MEMHARNESS_BROKER_URL": broker},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                log.close()
            # `--nodes 0` takes the nodes that answer when it starts: both must be ready by then.
            logs = [tmp_path / f"host{index}.log" for index in (1, 2)]

            def both_serving() -> None:
                assert all(node.poll() is None for node in nodes), _read(logs)

            ready = [f"host{index}@{host} ready." for index, host in enumerate(two_hosts, 1)]
            wait_until(
                lambda: all(line in _read(logs) for line in ready), "both nodes ready", both_serving
            )
            out = tmp_path / "out"
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "memharness_s3.cli",
                    "run",
                    "--executor",
                    "celery",
                    "--nodes",
                    "0",
                    "--backend",
                    "endpoint",
                    "--endpoint-url",
                    endpoint,
                    "--sizes",
                    "8MB",
                    "--strategies",
                    "chunked",
                    "--concurrency",
                    "2",
                    "--repeat",
                    "2",
                    "--cache-dir",
                    str(tmp_path / "cache"),
                    "--out",
                    str(out),
                ],
                env={**env, "MEMHARNESS_BROKER_URL": broker},
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            for node in nodes:
                stop_process_group(node, grace_s=15)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and all(line["status"] == "ok" for line in lines)
    assert {line["node"] for line in lines} == {
        f"host{i}@{host}" for i, host in enumerate(two_hosts, start=1)
    }
    for group in {line["group_id"] for line in lines}:
        assert len({line["node"] for line in lines if line["group_id"] == group}) == 2
    host_logs = "".join((tmp_path / f"host{i}.log").read_text() for i in (1, 2))
    assert f"S3 {endpoint}" in host_logs
    password = broker.split(":")[2].split("@")[0]
    assert password not in host_logs and password not in run.stderr + run.stdout

"""``memharness limits`` for real: measured runs on a moto server under a memory cap.

Two workers share one 256 MiB cgroup (node scope, as a container's processes do). read-all holds
the whole object, so from some size on the kernel kills one of them: the search must bracket that
size with runs that say so. chunked streams in fixed chunks: nothing kills it up to the largest
size tried.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from memharness_s3.results.safe_sizes import LIMITS_FILE
from tests.support.cli import memharness

pytestmark = pytest.mark.integration

MB = 10**6
MAX_SIZE = 200 * MB


def test_read_all_gets_a_finite_limit_and_chunked_none(
    tmp_path: Path, temp_root: Path, cache_dir: Path
) -> None:
    out = tmp_path / "out"
    proc = memharness(
        "limits",
        *("--strategies", "read-all,chunked", "--concurrency", "2"),
        # two ~60 MB baselines and two whole 200 MB objects are twice the limit
        *("--memory-limit", "256MiB", "--memory-scope", "node"),
        *("--max-size", "200MB", "--tries", "1", "--json"),
        *("--cache-dir", str(cache_dir), "--out", str(out)),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = [json.loads(line) for line in proc.stdout.splitlines()]
    written = [json.loads(line) for line in (out / LIMITS_FILE).read_text().splitlines()]
    assert printed == written
    read_all, chunked = written
    assert (read_all["strategy"], chunked["strategy"]) == ("read-all", "chunked")

    assert read_all["smallest_killed_bytes"] is not None
    assert read_all["largest_ok_bytes"] is not None
    assert 10 * MB <= read_all["largest_ok_bytes"] < read_all["smallest_killed_bytes"] <= MAX_SIZE
    assert (chunked["largest_ok_bytes"], chunked["smallest_killed_bytes"]) == (MAX_SIZE, None)
    # the node's charged peak at the largest safe size: measured, and under the shared limit
    (at_ok,) = [p for p in read_all["probes"] if p["size_bytes"] == read_all["largest_ok_bytes"]]
    assert 0 < at_ok["peak_bytes"] <= 256 * 2**20

    # every probe is there as ordinary result lines, and the kills counted are the oom lines
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    per_size = Counter((r["strategy"], r["size_bytes"]) for r in lines)
    ooms = Counter((r["strategy"], r["size_bytes"]) for r in lines if r["status"] == "oom")
    for record in written:
        for probe in record["probes"]:
            key = (record["strategy"], probe["size_bytes"])
            assert per_size[key] == 2, key
            assert ooms[key] == probe["killed_tasks"], key
    assert ooms[("read-all", read_all["smallest_killed_bytes"])] > 0
    assert not any(strategy == "chunked" for strategy, _ in ooms)

    report = (out / "index.html").read_text()
    assert "Largest safe size" in report
    ok_mb = read_all["largest_ok_bytes"] // MB
    assert f"read-all up to {ok_mb} MB at 2 workers at once in 256 MiB shared by the node" in report

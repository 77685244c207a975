"""Caveats are said where they apply and nowhere else."""

from __future__ import annotations

from typing import Any

import pytest

from memharness_s3.analysis import wire_share
from memharness_s3.analysis.cases import Analysis
from memharness_s3.analysis.caveats import caveats
from memharness_s3.model.records import RunResult, of_wire
from memharness_s3.views.table import render
from tests.support.results import CAP, MB, run


def test_no_caveat_for_clean_results_on_s3rver() -> None:
    runs = [run("chunked", 250 * MB, 69 * MB, backend="s3rver", repeat=r) for r in range(3)]
    assert caveats(Analysis(runs), {"backend": "s3rver"}) == []


def test_each_caveat_where_it_applies() -> None:
    runs = [
        run("textract-direct", 10 * MB, 87 * MB, throughput_mb_s=None, wall_s=None),
        run("chunked", 10 * MB, 60 * MB, throughput_mb_s=300.0),
        run("chunked", 10 * MB, 60 * MB, throughput_mb_s=600.0, repeat=1),
        run("read-all", 250 * MB, CAP + 20 * MB, cap_enforcement="cgroup-v1"),  # cap: CAP
    ]
    found = caveats(Analysis(runs), {"backend": "moto"})
    assert len(found) == 4
    assert "moto's Textract, which does not read the document" in found[0]
    assert "moto's server reads the whole object" in found[1]
    assert "1 runs peaked above their cgroup limit" in found[2]
    assert "chunked 10MB x1 (67%)" in found[3]
    with_textract = caveats(Analysis(runs), {"textract_endpoint_url": "https://textract.aws"})
    assert not any("moto's Textract" in caveat for caveat in with_textract)


# --- of wire: shown only where it means something, never above 1.1 without a reason -------


def wire_run(
    strategy: str, share: float, backend: str = "s3rver", params: dict[str, Any] | None = None
) -> RunResult:
    """A 250 MB run whose throughput is ``share`` of a 400 MB/s wire."""
    result = run(
        strategy, 250 * MB, 70 * MB, backend=backend, throughput_mb_s=400.0 * share, wire_mb_s=400.0
    )
    result.params = params or {}
    return result


def test_of_wire_is_not_shown_on_moto() -> None:
    on_moto = wire_run("chunked", 1.95, backend="moto")
    assert of_wire(on_moto) == pytest.approx(1.95)  # the quotient exists: it is withheld
    assert wire_share.shown_of_wire(on_moto) is None
    found = caveats(Analysis([on_moto]), {"backend": "moto"})
    assert any('"of wire" is left empty' in caveat for caveat in found)
    assert not any(wire_share.MARK in caveat for caveat in found)  # nothing shown to explain
    assert wire_share.shown_of_wire(wire_run("chunked", 0.6)) == pytest.approx(0.6)


def test_a_share_under_the_ceiling_needs_no_caveat() -> None:
    runs = [wire_run("chunked", 0.6), wire_run("read-all", 1.05)]
    assert wire_share.text(wire_share.shown_of_wire(runs[1])) == "1.05"
    assert caveats(Analysis(runs), {"backend": "s3rver"}) == []


def test_a_share_above_the_ceiling_is_marked_and_its_reason_named() -> None:
    parallel = wire_run("transfer-manager", 1.35, params={"max_concurrency": 10})
    assert wire_share.text(wire_share.shown_of_wire(parallel)) == "1.35" + wire_share.MARK
    (caveat,) = caveats(Analysis([parallel]), {"backend": "s3rver"})
    assert caveat.startswith(wire_share.MARK)
    assert "transfer-manager 250MB x1 (up to 1.35: 10 GETs in flight" in caveat


def test_a_cold_yardstick_is_named_from_meta() -> None:
    single = wire_run("read-all", 1.2)
    meta = {"backend": "s3rver", "wire_mb_s": {single.object_key: [310.0, 400.0, 420.0]}}
    (caveat,) = caveats(Analysis([single]), meta)
    assert "the yardstick's own GETs ranged 310-420 MB/s, its first (cold) the slowest" in caveat
    assert "GETs in flight" not in caveat  # read-all has one stream: not claimed
    (steady,) = caveats(
        Analysis([single]), {"wire_mb_s": {single.object_key: [400.0, 401.0, 399.0]}}
    )
    assert "ranged" not in steady
    assert "measured once, before the runs" in steady


def test_the_terminal_table_applies_the_same_rules() -> None:
    rows = [
        wire_run("chunked", 1.95, backend="moto"),
        wire_run("transfer-manager", 1.35, params={"max_concurrency": 10}),
        wire_run("readinto", 0.6),
    ]
    table = render(rows)
    cells = {line.split()[0]: line for line in table.splitlines()[2:5]}
    assert " 0.60 " in cells["readinto"]
    assert "1.35" + wire_share.MARK in cells["transfer-manager"]
    assert "1.95" not in table  # moto's quotient is withheld, not shown
    assert "of wire is not shown on moto" in table
    assert "10 GETs in flight" in table


def test_runs_the_host_slowed_are_named_with_what_to_do() -> None:
    """Runs during which the VM handed 64 MiB or more back to its host are counted among the
    timed runs; the advice depends on whether the session already waited for it."""
    runs = [
        run("chunked", 750 * MB, 75 * MB, backend="s3rver", repeat=0, host_reported_bytes=700 * MB),
        run("chunked", 750 * MB, 75 * MB, backend="s3rver", repeat=1, host_reported_bytes=0),
        run("chunked", 750 * MB, 75 * MB, backend="s3rver", repeat=2, host_reported_bytes=None),
    ]
    (found,) = [c for c in caveats(Analysis(runs), {}) if "free page reporting" in c]
    assert "during 1 of 3 timed runs" in found and "--settle-host-memory" in found
    settled = caveats(Analysis(runs), {"host_memory": {"settled": True}})
    assert any("even though every run waited" in c for c in settled)
    below = [run("chunked", 750 * MB, 75 * MB, backend="s3rver", host_reported_bytes=8 * MB)]
    assert not any("free page reporting" in c for c in caveats(Analysis(below), {}))

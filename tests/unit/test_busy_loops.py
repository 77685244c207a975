"""The fidelity experiment's busy loops: running while the block runs, gone after it."""

from __future__ import annotations

import os

import pytest

from memharness_s3.experiments.busy import busy_loops
from memharness_s3.experiments.fidelity import main


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in (b"Z", b"X")


def test_busy_loops_run_inside_the_block_and_are_gone_after() -> None:
    with busy_loops(2) as pids:
        assert len(set(pids)) == 2
        assert all(_alive(pid) for pid in pids)
        # In the experiment's session, as a loop started from the same shell would be.
        assert all(os.getsid(pid) == os.getsid(0) for pid in pids)
    assert not any(_alive(pid) for pid in pids)


def test_busy_loops_are_stopped_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), busy_loops(1) as pids:
        raise RuntimeError("the experiment failed")
    assert not _alive(pids[0])


def test_no_busy_loops_starts_nothing() -> None:
    with busy_loops(0) as pids:
        assert pids == []


@pytest.mark.parametrize("bad", ["-1", "two", "1.5"])
def test_a_bad_busy_count_is_refused_in_one_line(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["--busy", bad])
    assert ended.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "not a whole number of busy loops" in err[-1]

"""``memharness limits`` as a user runs it, with a fake prober in place of measured runs: bad
input, the lines it writes and prints, Ctrl-C, a search that cannot settle; and its views (the
terminal table, the report section, a hostile ``limits.jsonl``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from memharness_s3.analysis.safe_size import INTERRUPTED, Probe, SearchOutcome
from memharness_s3.cli import main
from memharness_s3.errors import UsageError
from memharness_s3.execution import safe_size_probe
from memharness_s3.results import safe_sizes
from memharness_s3.s3 import backends
from memharness_s3.s3.backends import Backend
from memharness_s3.views.html.page import render_report
from memharness_s3.views.safe_size_table import render
from tests.support.cli import memharness, one_line_error
from tests.support.results import make_case, runs, write

MB = 10**6
MIB = 2**20
REQUIRED_KEYS = {
    "strategy",
    "concurrency",
    "largest_ok_bytes",
    "smallest_killed_bytes",
    "tries",
    "memory_limit_bytes",
    "memory_scope",
}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["limits"], "the following arguments are required: --memory-limit"),
        (["limits", "--memory-limit", "lots"], "malformed size 'lots'"),
        (["limits", "--memory-limit", "512MiB,512MiB"], "lists the same value twice"),
        (["limits", "--memory-limit", "40MiB"], "below a worker's baseline"),
        (["limits", "--memory-limit", "512MiB", "--memory-scope", "pod"], "unknown memory scope"),
        (["limits", "--memory-limit", "512MiB", "--tries", "0"], "--tries must be a positive"),
        (
            ["limits", "--memory-limit", "512MiB", "--min-size", "1GB", "--max-size", "1GB"],
            "not below",
        ),
        (["limits", "--memory-limit", "512MiB", "--max-size", "20GB"], "--max-size: size '20GB'"),
        (["limits", "--memory-limit", "512MiB", "--strategies", "read-al"], "unknown strategy"),
        (["limits", "--memory-limit", "512MiB", "--process", "none,split"], "one processing step"),
        (
            [
                "limits",
                "--memory-limit",
                "512MiB",
                "--strategies",
                "chunked",
                "--param",
                "range.part_size=1MB",
            ],
            "not searched",
        ),
        (
            [
                "limits",
                "--memory-limit",
                "512MiB",
                "--executor",
                "celery",
                "--memory-scope",
                "worker",
            ],
            "--memory-scope worker cannot be had with --executor celery",
        ),
        (["limits", "--memory-limit", "512MiB", "--fault", "truncate"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], expected: str, tmp_path: Path) -> None:
    proc = memharness(*args, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert expected in one_line_error(proc)
    assert not (tmp_path / "out").exists()


# --- the command with a fake prober -----------------------------------------------------------


class FakeProber:
    """Stands in for ``SessionProber``: read-all is killed above 60 MB (1 worker of the 4 in each
    try up to 80 MB, all above), chunked never; ``interrupt_at`` (strategy, n) raises Ctrl-C at
    that strategy's n-th probe; above ``infra_above`` every run is broken by the setup."""

    interrupt_at: ClassVar[tuple[str, int] | None] = None
    infra_above: ClassVar[int | None] = None
    probed: ClassVar[list[tuple[str, int]]] = []

    def __init__(
        self, base: Any, target: Any, out_dir: Path, executor: Any, backend: Any, tries: int
    ):
        self.tries = tries

    def probe(self, series: safe_size_probe.Series, size: int) -> Probe:
        FakeProber.probed.append((series.strategy, size))
        nth = sum(1 for strategy, _ in FakeProber.probed if strategy == series.strategy)
        if FakeProber.interrupt_at == (series.strategy, nth):
            raise KeyboardInterrupt
        workers = series.concurrency
        if FakeProber.infra_above is not None and size > FakeProber.infra_above:
            return Probe(size, self.tries, 0, 0, 0, 0, infra_runs=self.tries)
        killed = 0
        if series.strategy == "read-all" and size > 60 * MB:
            killed = 1 if size <= 80 * MB else workers
        killed_runs = self.tries if killed else 0
        return Probe(
            size,
            self.tries,
            self.tries - killed_runs,
            killed_runs,
            self.tries * workers,
            killed * self.tries,
        )


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeProber]]:
    @contextlib.contextmanager
    def no_backend(name: str, *args: Any) -> Iterator[Backend]:
        yield Backend(name, "http://127.0.0.1:9", "us-east-1")

    FakeProber.interrupt_at, FakeProber.infra_above, FakeProber.probed = None, None, []
    monkeypatch.setattr(safe_size_probe, "SessionProber", FakeProber)
    monkeypatch.setattr(backends, "open_backend", no_backend)
    yield FakeProber


SEARCH = [
    "limits",
    "--strategies",
    "read-all,chunked",
    "--concurrency",
    "4",
    "--memory-limit",
    "512MiB",
    "--memory-scope",
    "node",
]


def test_json_prints_one_object_per_search_and_limits_jsonl_holds_the_same(
    fake: type[FakeProber], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main([*SEARCH, "--json", "--out", str(out)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["strategy"] for p in printed] == ["read-all", "chunked"]
    for record in printed:
        assert record.keys() >= REQUIRED_KEYS
        assert (record["concurrency"], record["tries"], record["memory_scope"]) == (4, 3, "node")
        assert record["memory_limit_bytes"] == 512 * MIB
    read_all, chunked = printed
    assert read_all["largest_ok_bytes"] <= 60 * MB < read_all["smallest_killed_bytes"]
    assert read_all["smallest_killed_bytes"] <= 1.1 * read_all["largest_ok_bytes"] + 2 * MB
    assert (chunked["largest_ok_bytes"], chunked["smallest_killed_bytes"]) == (2000 * MB, None)
    written = (out / safe_sizes.LIMITS_FILE).read_text().splitlines()
    assert [json.loads(line) for line in written] == printed
    meta = json.loads((out / "meta.json").read_text())
    assert meta["limits"]["tries"] == 3 and meta["settings"]["memory_scope"] == "node"


def test_the_table_gives_the_rule_to_paste(
    fake: type[FakeProber], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*SEARCH, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    (read_all,) = [s for s in safe_sizes.load(tmp_path / "out") if s.strategy == "read-all"]
    assert read_all.largest_ok_bytes is not None
    ok = f"{read_all.largest_ok_bytes // MB} MB"
    assert (
        f"read-all up to {ok} at 4 workers at once in 512 MiB shared by the node, else chunked"
        in printed
    )
    assert "2 GB (largest tried)" in printed


def test_ctrl_c_keeps_the_searches_and_probes_done(
    fake: type[FakeProber], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.interrupt_at = ("chunked", 2)
    out = tmp_path / "out"
    assert main([*SEARCH, "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    found = safe_sizes.load(out)
    assert [(s.strategy, s.stopped) for s in found] == [
        ("read-all", None),
        ("chunked", INTERRUPTED),
    ]
    assert [p.size_bytes for p in found[1].probes] == [10 * MB]


def test_a_search_the_backend_keeps_breaking_ends_1_and_no_kill_is_counted(
    fake: type[FakeProber], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.infra_above = 100 * MB
    out = tmp_path / "out"
    assert main([*SEARCH, "--strategies", "chunked", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("memharness: 1 of 1 searches stopped before their resolution: chunked x4")
    assert "infra" in err
    (chunked,) = safe_sizes.load(out)
    assert chunked.smallest_killed_bytes is None and chunked.largest_ok_bytes == 10 * MB
    assert all(p.killed_tasks == 0 for p in chunked.probes)


def test_a_results_directory_that_is_not_empty_is_refused(
    fake: type[FakeProber], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text("")
    assert main([*SEARCH, "--out", str(out)]) == 2
    assert fake.probed == []


# --- the views ----------------------------------------------------------------------------------


def limit(strategy: str, ok: int | None, killed: int | None, **fields: Any) -> safe_sizes.SizeLimit:
    probes = [
        Probe(size, 3, 3, 0, 12, 0, peak_bytes=483 * MB)
        if size == ok
        else Probe(size, 3, 0, 3, 12, 2, peak_bytes=536 * MB)
        for size in (ok, killed)
        if size is not None
    ]
    outcome = SearchOutcome(ok, killed, tuple(probes), fields.pop("stopped", None))
    base = {
        "strategy": strategy,
        "concurrency": 4,
        "memory_limit_bytes": 512 * MIB,
        "memory_scope": "node",
        "tries": 3,
        "min_size_bytes": 10 * MB,
        "max_size_bytes": 2000 * MB,
        "backend": "s3rver",
    }
    return safe_sizes.size_limit(outcome, **{**base, **fields})


def test_the_rules_name_only_measured_sizes() -> None:
    text = render(
        [
            limit("read-all", 53 * MB, 58 * MB),
            limit("range", None, 10 * MB),
            limit("transfer-manager", 150 * MB, None, stopped="unsettled: 300 MB: of 3 tries 2 ok"),
            limit("chunked", 2000 * MB, None),
            limit("readinto", 2000 * MB, None),
        ]
    )
    setting = "at 4 workers at once in 512 MiB shared by the node"
    assert f"read-all up to 53 MB {setting}, else chunked or readinto" in text
    assert f"range {setting}: killed even at the smallest size tried, 10 MB" in text
    assert "transfer-manager at 4 workers" in text and "search stopped (unsettled" in text
    assert "2 of 12 workers" in text
    assert "483 MB (90%)" in text  # the peak at the largest safe size, against 536.9 MB
    assert "none: killed at 10 MB" in text


def test_without_a_strategy_that_survived_every_size_the_rule_says_so() -> None:
    text = render([limit("read-all", 53 * MB, 58 * MB), limit("range", 300 * MB, 330 * MB)])
    setting = "at 4 workers at once in 512 MiB shared by the node"
    assert f"range up to 300 MB {setting} (killed at 330 MB)" in text
    assert f"read-all up to 53 MB {setting} (killed at 58 MB)" in text
    assert text.index("range up to") < text.index("read-all up to")  # largest first
    assert f"{setting}, no strategy searched was safe at every size up to 2 GB" in text
    assert "else" not in text


def test_the_report_shows_the_largest_safe_size_section(tmp_path: Path) -> None:
    out = write(tmp_path / "run", runs(make_case("read-all", 53 * MB, 4), [[100.0] * 4]))
    safe_sizes.append(out, limit("read-all", 53 * MB, 58 * MB))
    safe_sizes.append(out, limit("chunked", 2000 * MB, None))
    html = render_report(out).read_text()
    assert "Largest safe size" in html
    assert (
        "read-all up to 53 MB at 4 workers at once in 512 MiB shared by the node, else chunked"
        in html
    )
    assert "58 MB: 2 of 12 killed" in html


def test_a_report_without_limits_has_no_section(tmp_path: Path) -> None:
    out = write(tmp_path / "run", runs(make_case("read-all", 53 * MB, 1), [[100.0]]))
    assert 'id="largest-safe"' not in render_report(out).read_text()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("not json", "not a memharness limits line"),
        ("[1, 2]", "not a JSON object"),
        ('{"strategy": "read-all"}', "missing"),
        ("STRATEGY_EVIL", "wrong type"),
        ("SCOPE_EVIL", "memory_scope"),
        ("NEGATIVE", "must be from 0"),
    ],
)
def test_a_hostile_limits_file_is_one_line(line: str, expected: str, tmp_path: Path) -> None:
    good = json.loads(safe_sizes.to_line(limit("read-all", 53 * MB, 58 * MB)))
    variants = {
        "STRATEGY_EVIL": {**good, "strategy": {"\x1b[2J": 1}},
        "SCOPE_EVIL": {**good, "memory_scope": "galaxy"},
        "NEGATIVE": {**good, "largest_ok_bytes": -5},
    }
    text = json.dumps(variants[line]) if line in variants else line
    (tmp_path / safe_sizes.LIMITS_FILE).write_text(text + "\n")
    with pytest.raises(UsageError) as caught:
        safe_sizes.load(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / safe_sizes.LIMITS_FILE}:1: ")
    assert expected in message
    assert "\n" not in message

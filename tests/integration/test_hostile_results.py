"""Hostile and absurd inputs (issue 16, points 3, 4 and 6): each ends in one line and the exit
status docs/bad-input.md gives it, leaves no directory behind, and never makes a command read,
write or follow a path outside its directory.

Most of these run the command in-process (``cli.main``): what is tested is the line and the
status, and a results directory is refused before anything heavy is imported. The ones about
servers and directories left behind run ``memharness`` as a user does.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from memharness_s3 import cli
from memharness_s3.cli import strategies as strategies_cmd
from memharness_s3.errors import EXIT_INTERNAL
from memharness_s3.model.records import RunResult, to_json
from memharness_s3.s3.backends.moto_server import free_port
from tests.support.cli import CREDENTIALS, memharness, one_line_error
from tests.support.results import assert_clean, hostile_results, make_case, runs, write

N400 = "9" * 400
VIEWS = [
    ["gate", "--budget", "512MiB"],
    ["report"],
    ["export", "--format", "bencher", "-o", "-"],
    ["compare"],
]


@pytest.fixture(autouse=True)
def private_crash_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An internal error in a test writes its traceback under tmp_path, not the user's cache."""
    monkeypatch.setenv("MEMHARNESS_CACHE", str(tmp_path / "cache"))


def main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``memharness ARGS`` in this process: its status, stdout and stderr."""
    status = cli.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[:2000]
    assert "Traceback" not in err
    return lines[0]


def good_results() -> list[RunResult]:
    return runs(make_case("chunked", 250 * 10**6), [[69.0], [70.0]])


def results_with(folder: Path, **fields: object) -> Path:
    """A results directory whose first line has ``fields`` replaced (as raw JSON values)."""
    results = good_results()
    first = json.loads(to_json(results[0]))
    first.update(fields)
    write(folder, results[1:])
    text = (folder / "results.jsonl").read_text()
    (folder / "results.jsonl").write_text(json.dumps(first) + "\n" + text)
    return folder


def view(capsys: pytest.CaptureFixture[str], command: list[str], folder: Path) -> tuple[int, str]:
    """One of the four views of ``folder``; compare gets a good directory beside it."""
    if command[0] == "compare":
        good = write(folder.parent / "good", good_results())
        status, _, err = main(capsys, "compare", str(good), str(folder))
    else:
        status, _, err = main(capsys, command[0], str(folder), *command[1:])
    return status, err


# --- results fields out of range -----------------------------------------------------------


@pytest.mark.parametrize("command", VIEWS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"peak_rss_bytes": int("4" * 401)}, "field 'peak_rss_bytes' must be from 0 to"),
        ({"retries": int("4" * 401)}, "a number of 401 digits"),
        ({"size_bytes": 10**30}, "field 'size_bytes' must be from 0 to"),
        ({"peak_rss_bytes": -67 * 10**6}, "field 'peak_rss_bytes' must be from 0"),
        ({"peak_rss_bytes": 0}, "field 'peak_rss_bytes' of an ok run must be 1 or more"),
        ({"size_bytes": -5}, "field 'size_bytes' must be from 0"),
        ({"size_bytes": 0}, "field 'size_bytes' of an ok run must be 1 or more"),
        ({"concurrency": 0}, "field 'concurrency' must be from 1"),
        ({"wall_s": -1.0}, "field 'wall_s' must be from 0"),
        ({"status": "great"}, "field 'status' must be one of ok, error"),
        ({"pool": "fibers"}, "field 'pool' must be one of processes, threads"),
        ({"strategy": "x" * 201}, "field 'strategy' is longer than 200 characters"),
        ({"error": "e" * 2001}, "field 'error' is longer than 2,000 characters"),
        ({"params": {"chunk_size": "x" * 30_000}}, "field 'params' is longer than 20,000"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_a_field_out_of_range_is_refused_with_file_line_and_field(
    command: list[str],
    fields: dict[str, object],
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = results_with(tmp_path / "bad", **fields)
    status, err = view(capsys, command, folder)
    assert status == 2, err[:500]
    line = error_line(err)
    assert f"{folder / 'results.jsonl'}:1: " in line
    assert expected in line
    assert len(line) < 600


@pytest.mark.parametrize("command", VIEWS, ids=lambda c: c[0])
def test_a_huge_strategy_name_is_refused_at_load(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two lines with a 50 MB strategy name: refused before anything is rendered or printed."""
    folder = results_with(tmp_path / "bad", strategy="s" * 50 * 10**6)
    lines = (folder / "results.jsonl").read_text().splitlines()
    (folder / "results.jsonl").write_text("\n".join([lines[0], *lines]) + "\n")
    status, err = view(capsys, command, folder)
    assert status == 2
    assert "results.jsonl:1: a line of 50,001," in error_line(err)
    assert not (folder / "index.html").exists()


def test_gate_never_passes_a_negative_peak_and_export_never_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = results_with(tmp_path / "bad", peak_rss_bytes=-67 * 10**6)
    assert main(capsys, "gate", str(folder), "--budget", "512MiB")[0] == 2
    out = tmp_path / "export.json"
    assert main(capsys, "export", str(folder), "--format", "bencher", "-o", str(out))[0] == 2
    assert not out.exists()


@pytest.mark.parametrize("name", ["results.jsonl", "meta.json"])
@pytest.mark.parametrize("command", VIEWS, ids=lambda c: c[0])
def test_a_symlinked_results_or_meta_file_is_never_followed(
    command: list[str], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = write(tmp_path / "outside", good_results())
    folder = write(tmp_path / "bad", good_results())
    (folder / name).unlink()
    (folder / name).symlink_to(outside / name)
    status, err = view(capsys, command, folder)
    assert status == 2
    assert f"{folder / name} is a symbolic link" in error_line(err)


# --- printing: control characters escaped, long text cut ------------------------------------


def test_gate_prints_case_names_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = hostile_results(tmp_path / "hostile")
    summary = tmp_path / "summary.md"
    status, out, _ = main(
        capsys, "gate", str(folder), "--budget", "512MiB", "--summary", str(summary)
    )
    assert status == 1
    assert_clean(out)
    assert "\\x1b[2J" in out and "\\u202e" in out
    assert_clean(summary.read_text())


def test_compare_prints_case_and_run_names_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = hostile_results(tmp_path / "old\x1b[1m", 100.0)
    new = hostile_results(tmp_path / "new", 300.0)
    status, out, _ = main(capsys, "compare", str(old), str(new))
    assert status in (0, 1)
    assert_clean(out)
    assert "\\x1b[2J" in out


def test_compare_table_shows_whole_default_run_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write(tmp_path / "reports" / "20261202T004105Z", good_results())
    second = write(tmp_path / "reports" / "20261202T004913Z", good_results())
    status, out, _ = main(capsys, "compare", str(first), str(second))
    assert status == 0
    assert "20261202T004105Z" in out.splitlines()[0]
    assert "20261202T004913Z" in out.splitlines()[0]


# --- gate options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        ("512", "--budget '512' has no unit: write e.g. 512MiB"),
        ("1.4", "--budget '1.4' has no unit"),
        ("1.4B", "is not a whole number of bytes"),
        (N400, "malformed size"),
        (N400 + "MB", "malformed size"),
        ("2000TB", "above the largest"),
    ],
)
def test_a_budget_without_a_unit_or_out_of_range_is_a_usage_error(
    budget: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path / "r", good_results())
    status, _, err = main(capsys, "gate", str(folder), "--budget", budget)
    assert status == 2
    assert expected in error_line(err)


def test_gate_against_its_own_directory_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path / "r", good_results())
    for baseline in (folder, folder / "results.jsonl", tmp_path / "." / "r"):
        status, _, err = main(
            capsys, "gate", str(folder), "--budget", "512MiB", "--baseline", str(baseline)
        )
        assert status == 2
        assert "is the results being gated" in error_line(err)


# --- writes: never through a symlink, never over a file memharness did not write -------------


def test_report_never_writes_through_a_symlinked_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path / "r", good_results())
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (folder / "index.html").symlink_to(victim)
    status, _, err = main(capsys, "report", str(folder))
    assert status == 2
    assert "is a symbolic link" in error_line(err)
    assert victim.read_text() == "precious"


def test_report_never_writes_over_an_index_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path / "r", good_results())
    (folder / "index.html").write_text("<html>someone else's page</html>")
    status, _, err = main(capsys, "report", str(folder))
    assert status == 2
    assert "memharness did not write it" in error_line(err)
    assert (folder / "index.html").read_text() == "<html>someone else's page</html>"


def test_report_replaces_its_own_index_and_renders_dollar_signs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Dollar signs in a strategy's name reach the page as text (when the charts were drawn
    by matplotlib, ``$x$`` started its mathtext and ``$\\frac{$`` made the whole chart fail)."""
    results = []
    for result in good_results():
        data = json.loads(to_json(result))
        data["strategy"] = "cost$x$ $\\frac{$"
        results.append(json.dumps(data))
    folder = write(tmp_path / "r", [])
    (folder / "results.jsonl").write_text("\n".join(results) + "\n")
    for _ in range(2):
        status, _, err = main(capsys, "report", str(folder))
        assert status == 0, err
    assert "cost$x$ $\\frac{$" in (folder / "index.html").read_text()


def test_compare_html_renders_dollar_signs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = []
    for name, peak in (("old", 100.0), ("new", 110.0)):
        lines = []
        for result in runs(make_case("chunked", 250 * 10**6), [[peak]]):
            data = json.loads(to_json(result))
            data["strategy"] = "$x$ $\\frac{$"
            lines.append(json.dumps(data))
        folder = write(tmp_path / name, [])
        (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
        dirs.append(str(folder))
    page = tmp_path / "compare.html"
    status, _, err = main(capsys, "compare", *dirs, "--html", str(page))
    assert status in (0, 1), err
    assert "$x$ $\\frac{$" in page.read_text()


def test_export_never_writes_through_a_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write(tmp_path / "r", good_results())
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.json"
    link.symlink_to(victim)
    status, _, err = main(capsys, "export", str(folder), "--format", "bencher", "-o", str(link))
    assert status == 2
    assert "is a symbolic link" in error_line(err)
    assert victim.read_text() == "precious"


# --- run --out and --resume: refused before anything starts ----------------------------------


def test_run_out_on_a_directory_with_files_is_refused_and_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("meta.json", "index.html", "moto-server.log"):
        (folder / name).write_text(f"my own {name}")
    proc = memharness("run", "--sizes", "64KiB", "--out", str(folder), cwd=tmp_path)
    assert proc.returncode == 2
    assert "is not empty: a run writes only into a new or empty directory" in one_line_error(proc)
    assert sorted(p.name for p in folder.iterdir()) == [
        "index.html",
        "meta.json",
        "moto-server.log",
    ]
    assert all(p.read_text() == f"my own {p.name}" for p in folder.iterdir())


def test_run_out_on_a_results_directory_points_at_resume(tmp_path: Path) -> None:
    folder = write(tmp_path / "r", good_results())
    before = (folder / "results.jsonl").read_text()
    proc = memharness("run", "--sizes", "64KiB", "--out", str(folder), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"give --resume {folder}" in one_line_error(proc)
    assert (folder / "results.jsonl").read_text() == before


def resumable(folder: Path) -> Path:
    """A results directory ``--resume`` accepts: meta.json with its settings."""
    write(folder, good_results())
    settings = {"sizes": [["64KiB", 65536]], "strategies": ["chunked"]}
    (folder / "meta.json").write_text(json.dumps({"backend": "moto", "settings": settings}))
    return folder


def test_resume_of_a_truncated_line_is_exit_2_before_any_server_starts(tmp_path: Path) -> None:
    folder = resumable(tmp_path / "r")
    with (folder / "results.jsonl").open("a") as file:
        file.write('{"run_id": "x", "strat')
    before = sorted(p.name for p in folder.iterdir())
    proc = memharness("run", "--resume", str(folder), cwd=tmp_path)
    assert proc.returncode == 2
    assert "results.jsonl:3: not a memharness result line" in one_line_error(proc)
    assert "backend:" not in proc.stderr
    assert sorted(p.name for p in folder.iterdir()) == before  # no server log


def test_resume_into_a_directory_with_a_symlink_is_refused(tmp_path: Path) -> None:
    folder = resumable(tmp_path / "r")
    victim = tmp_path / "victim.log"
    victim.write_text("precious")
    (folder / "moto-server.log").symlink_to(victim)
    proc = memharness("run", "--resume", str(folder), cwd=tmp_path)
    assert proc.returncode == 2
    assert "moto-server.log is a symbolic link" in one_line_error(proc)
    assert victim.read_text() == "precious"


# --- runs that fail before measuring leave no directory --------------------------------------


class _NotFound(http.server.BaseHTTPRequestHandler):
    """Answers 404 with an HTML body to every request: a web server, not S3."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b"<html>not here</html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def answers_404() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


NO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "",
    "AWS_CONFIG_FILE": "/nonexistent/memharness-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/memharness-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _run_fails_before_measuring(
    tmp_path: Path, url: str, env: dict[str, str], *backend: str
) -> str:
    out = tmp_path / "o"  # a relative name that is a substring of the message ("no AWS ...")
    proc = memharness(
        "run", *backend, "--endpoint-url", url, "--sizes", "64KiB", "--out", "o",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert not out.exists(), list(out.iterdir())
    return one_line_error(proc)


def test_a_non_s3_endpoint_says_so_and_leaves_no_directory(
    answers_404: str, tmp_path: Path
) -> None:
    line = _run_fails_before_measuring(tmp_path, answers_404, CREDENTIALS)
    assert "does not answer like S3 (CreateBucket got HTTP 404 with no S3 error)" in line


def test_endpoint_url_alone_measures_that_endpoint_and_a_down_one_leaves_no_directory(
    tmp_path: Path,
) -> None:
    """``--endpoint-url`` without ``--backend`` implies ``--backend endpoint``: moto is never
    measured instead."""
    url = f"http://127.0.0.1:{free_port()}"
    assert "cannot reach S3 endpoint" in _run_fails_before_measuring(tmp_path, url, CREDENTIALS)


def test_missing_credentials_leave_no_directory(answers_404: str, tmp_path: Path) -> None:
    line = _run_fails_before_measuring(
        tmp_path, answers_404, NO_CREDENTIALS, "--backend", "endpoint"
    )
    assert "no AWS credentials found" in line


def test_an_unknown_aws_profile_is_one_line(answers_404: str, tmp_path: Path) -> None:
    line = _run_fails_before_measuring(
        tmp_path, answers_404, {**CREDENTIALS, "AWS_PROFILE": "no-such-profile"}
    )
    assert "no-such-profile" in line


def test_endpoint_url_with_another_backend_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = main(capsys, "run", "--backend", "s3rver", "--endpoint-url", "http://x:1")
    assert status == 2
    assert "--endpoint-url is for --backend endpoint, but the backend is 's3rver'" in error_line(
        err
    )


# --- numbers on the command line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--sizes", N400], "--sizes: malformed size"),
        (["--memory-limit", N400], "--memory-limit: malformed size"),
        (["--param", f"chunked.chunk_size={N400}", "--strategies", "chunked"], "malformed size"),
        (["--param", "chunked.chunk_size=1.4", "--strategies", "chunked"], "not a whole number"),
        (["--repeat", N400], "--repeat must be a positive integer"),
        (["--repeat", "100000000000"], "--repeat must be at most 10,000"),
        (["--concurrency", "100000"], "more than the 256 workers a case may run at once"),
        (["--concurrency", N400], "malformed --concurrency"),
        (["--timeout", "1e400"], "--timeout must be at most 604800 seconds (a week), got Infinity"),
        (["--sizes", "10MB,10000000,small"], "lists 10,000,000 bytes twice ('10MB' and"),
        (["--sizes", ",".join(["1"] * 40_001)], "lists 40,001 entries; at most 100"),
        (["--repeat", "10000", "--concurrency", "1,2,4,8"], "worker runs"),
    ],
)
def test_absurd_numbers_on_the_command_line_are_usage_errors(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    proc = memharness("run", *args, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert expected in line
    assert len(line) < 400
    assert list(tmp_path.iterdir()) == []


# --- matrix files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("repeat = 100000000000", ":6: 'repeat' must be at most 10,000, got 100000000000"),
        ("concurrency = [100000]", ":6: concurrency 100000 is more than the 256 workers"),
        ('sizes = ["10MB", "10000000", "small"]', ":6: 'sizes' lists 10,000,000 bytes twice"),
        ("sizes = [" + ", ".join(['"1MB"'] * 40_001) + "]", ":6: 'sizes' lists 40,001 entries"),
        ("timeout = 1e300", ":6: 'timeout' must be at most 604800 seconds (a week), got 1e+300"),
        (
            '[params.chunked]\nchunk_size = ["8MiB", "8388608"]',
            "names one value more than once (written differently)",
        ),
    ],
)
def test_absurd_matrix_values_are_one_line_before_anything_starts(
    body: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    matrix = tmp_path / "m.toml"
    sizes = "" if body.startswith("sizes") else 'sizes = ["64KiB"]'
    matrix.write_text(f'[matrix]\nstrategies = ["chunked"]\n{sizes}\n# a comment\n\n{body}\n')
    status, _, err = main(capsys, "run", "--matrix", str(matrix), "--out", str(tmp_path / "o"))
    assert status == 2
    assert expected in error_line(err)
    assert not (tmp_path / "o").exists()


# --- internal errors ---------------------------------------------------------------------------


def test_an_internal_error_exits_3_with_one_line_and_a_logged_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("a bug\x1b[2J\nwith two lines")

    monkeypatch.setattr(strategies_cmd, "run", broken)
    monkeypatch.delenv("MEMHARNESS_DEBUG", raising=False)
    status, _, err = main(capsys, "strategies")
    assert status == EXIT_INTERNAL == 3
    line = error_line(err)
    assert line.startswith("memharness: internal error: RuntimeError: a bug\\x1b[2J\\x0awith")
    logs = list((tmp_path / "cache" / "crashes").iterdir())
    assert len(logs) == 1 and str(logs[0]) in line
    assert "Traceback" in logs[0].read_text() and "def broken" not in line
    assert os.access(logs[0], os.R_OK)


def test_copies_that_cannot_fit_on_the_temp_disk_are_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from memharness_s3.config.settings import RunSettings
    from memharness_s3.errors import UsageError
    from memharness_s3.execution.session import Session, Target

    usage = type(shutil.disk_usage(tmp_path))
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12 - 10**9, 10**9))
    settings = RunSettings(sizes=[("2GB", 2 * 10**9)], strategies=["chunked"], concurrency=[4])
    with pytest.raises(UsageError, match=r"4 copies each .* take 8 GB, more than the 1 GB free"):
        Session(settings, Target(), tmp_path / "out").run()
    assert not (tmp_path / "out").exists()

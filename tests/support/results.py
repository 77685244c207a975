"""Result lines and results directories built by hand: the one set of factories every view, gate
and analysis test uses (numbers in MB = 10^6 bytes unless a name says MiB).
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memharness_s3.analysis.cases import Analysis, CaseRuns, Series
from memharness_s3.analysis.identity import key_of_case
from memharness_s3.analysis.noise import CaseNoise, NoiseFloor
from memharness_s3.model.records import Case, RunResult, to_json

MB = 10**6
GB = 10**9
MIB = 2**20
BUDGET = 512 * MIB
"""The memory cap every factory's case carries (the source document's 512 MiB worker)."""
CAP = BUDGET
STARTED_AT = "2026-01-01T00:00:00+00:00"
XSS = "<script>alert(1)</script>"
HOSTILE_NAME = "chunked\x1b[2J\x1b[31mred\nsecond row\u202eevil"


def line(
    case: Case,
    *,
    repeat: int = 0,
    worker: int = 0,
    backend: str = "moto",
    object_key: str | None = None,
    run_id: str | None = None,
    group_id: str | None = None,
    status: str = "ok",
    **fields: Any,
) -> RunResult:
    """The one factory: a result line of ``case`` as a run writes it, its case id derived the way
    the harness derives it (from the case, the object key and the backend); ``fields`` set the
    numbers a test cares about."""
    key = object_key or f"fixtures/{case.object_name}.pdf"
    case_id = key_of_case(case, key, backend).case_id
    return RunResult.for_case(
        case,
        repeat,
        worker,
        case_id=case_id,
        run_id=run_id or f"{case_id[:8]}-{repeat}-{worker}",
        group_id=group_id or f"{case_id[:8]}-{repeat}",
        object_key=key,
        status=status,
        backend=backend,
        started_at=STARTED_AT,
        **fields,
    )


def make_case(strategy: str = "chunked", size: int = 250 * MB, concurrency: int = 1) -> Case:
    return Case(
        strategy=strategy,
        object_name=f"{size}B",
        size_bytes=size,
        concurrency=concurrency,
        memory_limit_bytes=BUDGET,
    )


def cid(case: Case) -> str:
    """The case id the results of ``runs`` carry."""
    return key_of_case(case, f"fixtures/{case.object_name}.pdf", "s3rver").case_id


def runs(
    case: Case, peaks_mb: Sequence[Sequence[float]], status: str = "ok", tag: str = "a"
) -> list[RunResult]:
    """One line per worker per repeat on s3rver: ``peaks_mb[repeat][worker]`` in MB."""
    oom = "killed by the kernel at the 537 MB cgroup limit"
    return [
        line(
            case,
            repeat=repeat,
            worker=worker,
            backend="s3rver",
            run_id=f"{tag}{cid(case)[:4]}{repeat}{worker}",
            group_id=f"{tag}{cid(case)[:4]}{repeat}",
            status=status,
            peak_rss_bytes=round(peak * MB),
            wall_s=0.5,
            error=oom if status == "oom" else None,
        )
        for repeat, workers in enumerate(peaks_mb)
        for worker, peak in enumerate(workers)
    ]


def seed_like() -> list[RunResult]:
    """A small matrix like the seed one: two strategies, two sizes, concurrency 1 and 4."""
    return [
        *runs(make_case("chunked", 250 * MB), [[69.0]]),
        *runs(make_case("chunked", 250 * MB, 4), [[69.1, 69.0, 69.2, 69.1]]),
        *runs(make_case("range", 250 * MB), [[157.4]]),
        *runs(make_case("read-all", 250 * MB), [[302.4]]),
        *runs(make_case("read-all", 750 * MB), [[547.7]], status="oom"),
    ]


def scaled(results: Sequence[RunResult], case: Case, factor: float) -> list[RunResult]:
    """A copy of ``results`` with ``case``'s peaks multiplied by ``factor``."""
    out = []
    for result in results:
        copy = dataclasses.replace(result)
        if copy.case_id == cid(case) and copy.peak_rss_bytes is not None:
            copy.peak_rss_bytes = round(copy.peak_rss_bytes * factor)
        out.append(copy)
    return out


def write(directory: Path, results: Sequence[RunResult], expect: Sequence[object] = ()) -> Path:
    """A results directory of ``results`` with a minimal meta.json (s3rver, ``expect``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.jsonl").write_text("".join(to_json(r) + "\n" for r in results))
    meta = {"backend": "s3rver", "settings": {"expect": list(expect)}}
    (directory / "meta.json").write_text(json.dumps(meta))
    return directory


def result(case: Case, peak_mb: float, repeat: int = 0, backend: str = "moto") -> RunResult:
    """One worker's ok line of ``case`` at ``peak_mb`` MB over a 52 MB baseline."""
    return line(
        case,
        repeat=repeat,
        backend=backend,
        object_key=f"fixtures/memharness-{case.size_bytes}B.pdf",
        run_id=f"r{repeat}-{case.strategy}-{case.fault}-{sorted(case.params.items())}",
        group_id=f"g{repeat}",
        peak_rss_bytes=round(peak_mb * MB),
        baseline_rss_bytes=52 * MB,
        wall_s=0.5,
    )


def chunked(size: int = 250 * MB, chunk: int = 8 * MIB, fault: str | None = None) -> Case:
    return Case("chunked", f"{size}B", size, params={"chunk_size": chunk}, fault=fault)


def repeats(case: Case, *peaks: float) -> list[RunResult]:
    return [result(case, peak, repeat) for repeat, peak in enumerate(peaks)]


def run(
    strategy: str,
    size: int,
    peak: int | None,
    *,
    status: str = "ok",
    concurrency: int = 1,
    worker: int = 0,
    repeat: int = 0,
    pool: str = "processes",
    **fields: Any,
) -> RunResult:
    """A result line of ``strategy`` at ``size`` bytes on moto, capped at :data:`CAP`, with the
    numbers a test cares about (``peak`` in bytes)."""
    case = Case(
        strategy, f"{size}B", size, concurrency=concurrency, pool=pool, memory_limit_bytes=CAP
    )
    values: dict[str, Any] = {
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": 52 * MB if status == "ok" else None,
        "wall_s": 0.5 if status == "ok" else None,
        "throughput_mb_s": size / MB / 0.5 if status == "ok" else None,
        "aggregate_peak_rss_bytes": (peak or 0) * concurrency,
        "error": None if status == "ok" else f"killed by the kernel at the {CAP} cap",
    }
    values.update(fields)
    return line(
        case,
        repeat=repeat,
        worker=worker,
        object_key=f"fixtures/{size}.pdf",
        run_id=f"{strategy}-{size}-{concurrency}-{worker}-{repeat}",
        group_id=f"g-{strategy}-{size}-{concurrency}-{repeat}",
        status=status,
        **values,
    )


def series_of(runs: list[RunResult]) -> Series:
    """The one series ``runs`` belong to."""
    (series,) = Analysis(runs).group_by_series()
    return series


def matrix_runs() -> list[RunResult]:
    """read-all (peak = base + size, oom from 700 MB) and chunked (flat) at concurrency 1 and 2."""
    runs = []
    for concurrency in (1, 2):
        for size in (10 * MB, 100 * MB, 300 * MB, 700 * MB):
            for worker in range(concurrency):
                if size < 500 * MB:
                    runs.append(
                        run(
                            "read-all", size, 52 * MB + size, concurrency=concurrency, worker=worker
                        )
                    )
                else:
                    runs.append(
                        run(
                            "read-all",
                            size,
                            CAP + MB,
                            status="oom",
                            concurrency=concurrency,
                            worker=worker,
                        )
                    )
                runs.append(
                    run(
                        "chunked",
                        size,
                        61 * MB + (worker % 2) * MB,
                        concurrency=concurrency,
                        worker=worker,
                    )
                )
    return runs


def meta(**settings: Any) -> dict[str, Any]:
    return {
        "timestamp": "2026-01-01T00:00:00+00:00",
        "python": "3.11.7",
        "platform": "Linux",
        "packages": {"boto3": "1.44.8"},
        "backend": "moto",
        "endpoint_url": "http://127.0.0.1:1",
        "cpu_count": 2,
        "total_memory_bytes": 24 * 10**9,
        "cap_enforcement": "watchdog",
        "settings": {"memory_limit_bytes": CAP, **settings},
    }


def write_results_dir(
    path: Path, runs: list[RunResult], meta_json: dict[str, Any] | None = None
) -> Path:
    """A results directory as `memharness run` leaves it: results.jsonl, meta.json, timelines."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "timelines").mkdir(exist_ok=True)
    lines = []
    for result in runs:
        result.timeline_file = f"timelines/{result.run_id}.csv"
        peak = result.peak_rss_bytes or 0
        rows = [f"{i * 0.01:.2f},{30 * MB + (peak - 30 * MB) * i // 20}" for i in range(21)]
        (path / result.timeline_file).write_text("t_s,rss_bytes\n" + "\n".join(rows) + "\n")
        lines.append(to_json(result))
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    if meta_json is not None:
        (path / "meta.json").write_text(json.dumps(meta_json))
    return path


def synthetic_report_dir(path: Path) -> Path:
    """The matrix with hostile text in an object key, an error message and meta.json."""
    runs = matrix_runs()
    runs[0].object_key = f"{XSS}.pdf"
    oom = next(r for r in runs if r.status == "oom")
    oom.error = f"boom {XSS} & more"
    expect = [
        {
            "strategy": "read-all",
            "min_size_bytes": 500 * MB,
            "status": "oom",
            "reason": f"cannot fit {XSS}",
        }
    ]
    document = meta(expect=expect)
    document["backend"] = XSS
    return write_results_dir(path, runs, document)


def node_run(
    strategy: str,
    size: int,
    peaks: list[int],
    node: int | None,
    *,
    killed: int = 0,
    repeat: int = 0,
    **fields: Any,
) -> list[RunResult]:
    """One run of a case on a node: one line per task, the first ``killed`` killed."""
    return [
        task(
            strategy,
            size,
            peak,
            status="oom" if worker < killed else "ok",
            worker=worker,
            repeat=repeat,
            concurrency=len(peaks),
            node=node,
            **fields,
        )
        for worker, peak in enumerate(peaks)
    ]


def task(
    strategy: str,
    size: int,
    peak: int | None,
    *,
    status: str = "ok",
    concurrency: int = 4,
    worker: int = 0,
    repeat: int = 0,
    executor: str = "celery",
    backend: str = "s3rver",
    node: int | None = None,
    scope: str | None = None,
    wall: float = 1.0,
    **fields: Any,
) -> RunResult:
    """One results line: a Celery task (node-scoped) unless ``executor`` says local."""
    case = Case(
        strategy,
        f"{size}B",
        size,
        concurrency=concurrency,
        memory_limit_bytes=CAP,
        executor=executor,
        executor_params=fields.pop("executor_params", {}),
    )
    key = f"fixtures/{size}.pdf"
    ok = status == "ok"
    values: dict[str, Any] = {
        "case_id": key_of_case(case, key, backend).case_id,
        "run_id": f"{strategy}-{size}-{concurrency}-{worker}-{repeat}-{status}",
        "group_id": f"g-{strategy}-{size}-{concurrency}-{repeat}",
        "status": status,
        "backend": backend,
        "started_at": "2026-01-01T00:00:00+00:00",
        "object_key": key,
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": 80 * MB if ok else None,
        "wall_s": wall if ok else None,
        "bytes_fetched": size if ok else 0,
        "error": None if ok else "WorkerLostError: killed by the kernel",
    }
    values.update(fields)
    result = RunResult.for_case(case, repeat=repeat, worker=worker, **values)
    # Fields the scope branch adds to the records: set by name so this file runs either way.
    setattr(result, "node_charged_peak_bytes", node)  # noqa: B010
    if scope is not None:
        setattr(result, "memory_scope", scope)  # noqa: B010
    return result


def issue_matrix() -> list[RunResult]:
    """The issue's Celery matrix, 250 MB / 750 MB / 2 GB at x1 and x4, three repeats, s3rver."""
    results: list[RunResult] = []
    walls = {"chunked": 9.0, "readinto": 5.0, "read-all": 4.0, "range": 6.0}
    for repeat in range(3):
        for size in (250 * MB, 750 * MB, 2 * GB):
            for strategy, wall in walls.items():
                jitter = 0.1 * repeat
                results.append(
                    task(
                        strategy,
                        size,
                        70 * MB,
                        concurrency=1,
                        repeat=repeat,
                        wall=wall + jitter,
                        node=200 * MB,
                    )
                    if strategy != "read-all" or size == 250 * MB
                    else task(strategy, size, None, status="oom", concurrency=1, repeat=repeat)
                )
                killed = {"read-all": 3, "range": 2}.get(strategy, 0)
                results += node_run(
                    strategy,
                    size,
                    [70 * MB] * 4,
                    330 * MB,
                    killed=killed,
                    repeat=repeat,
                    wall=wall + jitter,
                )
    return results


def synthetic_run(rng: random.Random, noise_mb: float) -> list[RunResult]:
    """Two cases with 3 repeats: a 69 MB one and a 300 MB one, each peak +- noise_mb."""
    small = [69.0 + rng.uniform(-noise_mb, noise_mb) for _ in range(3)]
    large = [300.0 + rng.uniform(-noise_mb, noise_mb) for _ in range(3)]
    return [*repeats(chunked(), *small), *repeats(chunked(size=10 * MB), *large)]


def variants() -> list[RunResult]:
    size = 4 * MB
    return [
        result(chunked(size), 60.0),
        result(chunked(size, fault="truncate"), 61.0),
        result(chunked(size, fault="latency:200ms"), 62.0),
        result(chunked(size, chunk=4 * MIB), 57.0),
    ]


def four_workers(strategy: str, peak: int, wall: float | None, **fields: Any) -> list[Any]:
    fields.setdefault("bytes_fetched", GB)
    return [
        run(
            strategy,
            GB,
            peak,
            concurrency=4,
            worker=worker,
            wall_s=wall,
            throughput_mb_s=None if wall is None else 1000 / wall,
            **fields,
        )
        for worker in range(4)
    ]


def one_gb_at_four_workers() -> list[Any]:
    """1 GB at 4 workers under 512 MiB: what the seed document asks, with known answers."""
    return [
        *[run("read-all", GB, CAP + MB, status="oom", concurrency=4, worker=w) for w in range(4)],
        *four_workers("chunked", 70 * MB, 3.0, details={"requests": 1}),
        *four_workers("range", 160 * MB, 2.0, details={"requests": 10}),
        *four_workers("transfer-manager", 480 * MB, 1.0),  # under 537 MB, inside the headroom
        # Downloads nothing (its wall time is the Textract job's): never "fastest".
        *four_workers("textract-direct", 87 * MB, 0.5, bytes_fetched=0),
        run("chunked", 250 * MB, 69 * MB, bytes_fetched=250 * MB),
    ]


def cases_of(results: list[RunResult]) -> list[CaseRuns]:
    return Analysis(results).cases


def sample() -> list[RunResult]:
    return [
        *runs(make_case("chunked", 250 * MB), [[69.0], [69.4], [68.8]]),
        *runs(make_case("range", 250 * MB, 4), [[157.4, 157.3, 157.5, 157.4]]),
        *runs(make_case("read-all", 750 * MB), [[547.7]], status="oom"),
    ]


def floor_for(results: Sequence[RunResult], sigma_mb: float = 0.2) -> NoiseFloor:
    """A noise floor that knows every case of ``results``, each scattering by ``sigma_mb``."""
    cases = {
        r.case_id: CaseNoise(r.strategy, r.strategy, r.size_bytes, 5, 15, sigma_mb * MB, 0.0)
        for r in results
    }
    return NoiseFloor("calibration test.json", cases)


def calibration_file(path: Path, results: Sequence[RunResult], sigma_mb: float = 0.2) -> Path:
    from memharness_s3.results import calibration

    calibration.write(path, floor_for(results, sigma_mb), ["a", "b"])
    return path


def hostile_results(folder: Path, peak_mb: float = 900.0) -> Path:
    """Results of a case named with an ANSI escape, a newline and a bidi override, failing the
    budget with an error message full of them."""
    results = runs(make_case("chunked", 250 * 10**6), [[peak_mb]])
    lines = []
    for result in results:
        data = json.loads(to_json(result))
        data["strategy"] = HOSTILE_NAME
        data["object_name"] = "obj\x1b]0;title\x07"
        lines.append(json.dumps(data))
    write(folder, [])
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def assert_clean(text: str) -> None:
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\x07" not in text
    assert all(not line.startswith("second row") for line in text.splitlines())

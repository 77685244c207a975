"""Matrix files: the shipped seed matrix, a complete example, and one-line errors with file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from memharness_s3.config import matrix, registry
from memharness_s3.config.matrix import load_matrix
from memharness_s3.config.settings import RunSettings
from memharness_s3.errors import UsageError
from memharness_s3.model.records import Expectation
from memharness_s3.plan.runs import build_cases

SEED_MATRIX = Path(__file__).resolve().parents[1] / "fixtures" / "seed-matrix.toml"
ALL_STRATEGIES = ["read-all", "chunked", "range", "transfer-manager", "textract-direct"]
MiB = 2**20

COMPLETE = """\
[matrix]
sizes = ["small", "64MB", "1GiB"]
strategies = ["chunked", "transfer-manager", "textract-direct"]
concurrency = [1, 2, 8]
pool = "threads"
shared_object = true
memory_limit = "1GB"
process = "split"
split_part_size = "50MB"
repeat = 3
timeout = 120.5
backend = "minio"
memray = true

[params.chunked]
chunk_size = 1048576

[params.transfer-manager]
use_threads = false
max_concurrency = 4

[params."textract-direct"]
poll_interval_s = 0.25

[[expect]]
strategy = "chunked"
min_size = "large"
status = "timeout"
reason = "slow"

[[expect]]
strategy = "textract-direct"
min_size = "1B"
status = "error"
reason = "no Textract here"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text)
    return path


def test_the_seed_matrix_is_the_seed_documents_test_plan() -> None:
    spec = load_matrix(SEED_MATRIX)
    assert spec == RunSettings(
        sizes=[
            ("small", 10 * 10**6),
            ("medium", 250 * 10**6),
            ("large", 750 * 10**6),
            ("xlarge", 2 * 10**9),
        ],
        strategies=ALL_STRATEGIES,
        concurrency=[1, 4],
        pool="processes",
        shared_object=False,
        memory_limit_bytes=512 * MiB,
        process="none",
        split_part_bytes=100 * 10**6,
        repeat=1,
        timeout_s=1800.0,
        backend="s3rver",
        memray=False,
        params={
            "chunked": {"chunk_size": "8MiB"},
            "range": {"part_size": "100MiB"},
            "transfer-manager": {"multipart_chunksize": "8MiB", "max_concurrency": "10"},
        },
        expect=[Expectation("read-all", 500 * 10**6, "oom", spec.expect[0].reason)],
    )
    assert "read-all" in spec.expect[0].reason
    gate = spec.expect[0]
    assert [name for name, size in spec.sizes if gate.matches("read-all", size)] == [
        "large",
        "xlarge",
    ]
    assert not any(gate.matches(name, 2 * 10**9) for name in ALL_STRATEGIES[1:])


def test_a_complete_matrix_round_trips_every_field(tmp_path: Path) -> None:
    spec = load_matrix(write(tmp_path, COMPLETE))
    assert spec == RunSettings(
        sizes=[("small", 10 * 10**6), ("64MB", 64 * 10**6), ("1GiB", 2**30)],
        strategies=["chunked", "transfer-manager", "textract-direct"],
        concurrency=[1, 2, 8],
        pool="threads",
        shared_object=True,
        memory_limit_bytes=10**9,
        process="split",
        split_part_bytes=50 * 10**6,
        repeat=3,
        timeout_s=120.5,
        backend="minio",
        memray=True,
        params={
            "chunked": {"chunk_size": "1048576"},
            "transfer-manager": {"use_threads": "false", "max_concurrency": "4"},
            "textract-direct": {"poll_interval_s": "0.25"},
        },
        expect=[
            Expectation("chunked", 750 * 10**6, "timeout", "slow"),
            Expectation("textract-direct", 1, "error", "no Textract here"),
        ],
    )
    resolved = registry.resolve_params(
        registry.load("transfer-manager"), spec.params["transfer-manager"]
    )
    assert resolved["use_threads"] is False
    assert resolved["max_concurrency"] == 4


def test_only_sizes_and_strategies_are_required(tmp_path: Path) -> None:
    path = write(tmp_path, '[matrix]\nsizes = ["small"]\nstrategies = ["range"]\nconcurrency = 3\n')
    assert load_matrix(path) == RunSettings(
        sizes=[("small", 10 * 10**6)], strategies=["range"], concurrency=[3]
    )
    defaults = RunSettings(sizes=[], strategies=[])
    assert (defaults.concurrency, defaults.pool, defaults.memory_limit_bytes) == (
        [1],
        "processes",
        None,
    )
    assert (defaults.process, defaults.split_part_bytes, defaults.repeat) == ("none", 10**8, 1)
    assert (defaults.timeout_s, defaults.backend, defaults.memray) == (None, None, False)
    assert (defaults.shared_object, defaults.params, defaults.expect) == (False, {}, [])


def test_the_documented_example_is_a_valid_matrix(tmp_path: Path) -> None:
    assert matrix.__doc__ is not None
    block = matrix.__doc__.split("::\n\n", 1)[1].split("\n\n")
    example = textwrap.dedent("\n\n".join(part for part in block if part.startswith("    ")))
    spec = load_matrix(write(tmp_path, example))
    assert spec.sizes == [("small", 10**7), ("medium", 25 * 10**7), ("750MB", 75 * 10**7)]
    assert spec.params == {"chunked": {"chunk_size": "16MiB"}}
    assert spec.expect[0].matches("read-all", 750 * 10**6)
    assert not spec.expect[0].matches("read-all", 250 * 10**6)
    assert not spec.expect[0].matches("chunked", 750 * 10**6)


MATRIX = '[matrix]\nsizes = ["small"]\nstrategies = ["chunked", "read-all"]\n'

# (id, file text, expected line or None, fragments the one-line message must contain)
BAD_FILES = [
    ("invalid-toml", "[matrix]\nsizes = [small]\n", 2, ["invalid TOML", "line 2"]),
    ("no-matrix", '[params.chunked]\nchunk_size = "1MiB"\n', None, ["no [matrix] table"]),
    ("matrix-not-table", "matrix = 1\n", 1, ["'matrix' must be a table"]),
    ("unknown-table", MATRIX + '[parms.chunked]\nx = "1"\n', 4, ["[parms]", "[params]?"]),
    ("key-at-top", "repeat = 2\n" + MATRIX, 1, ["'repeat' is outside any table"]),
    ("unknown-top-key", "name = 'x'\n" + MATRIX, 1, ["unknown key 'name' at the top level"]),
    (
        "unknown-matrix-key",
        MATRIX + "# workers\nconcurency = [1, 4]\n",
        5,
        ["unknown key 'concurency' in [matrix] (did you mean 'concurrency'?)"],
    ),
    ("no-close-match", MATRIX + "zzz = 1\n", 4, ["unknown key 'zzz'", "known keys: sizes"]),
    ("missing-sizes", '[matrix]\nstrategies = ["chunked"]\n', 1, ["no 'sizes'"]),
    ("missing-strategies", '\n[matrix]\nsizes = ["small"]\n', 2, ["no 'strategies'"]),
    ("sizes-scalar", '[matrix]\nsizes = "small"\nstrategies = ["chunked"]\n', 2, ["'sizes'"]),
    ("sizes-empty", '[matrix]\nsizes = []\nstrategies = ["chunked"]\n', 2, ["'sizes' is empty"]),
    (
        "sizes-malformed",
        '[matrix]\nstrategies = ["chunked"]\nsizes = ["small", "-5MB"]\n',
        3,
        ["'sizes'", "malformed size '-5MB'"],
    ),
    ("sizes-zero", '[matrix]\nsizes = ["0"]\nstrategies = ["chunked"]\n', 2, ["below one byte"]),
    (
        "sizes-duplicate",
        '[matrix]\nsizes = ["small", "Small"]\nstrategies = ["chunked"]\n',
        2,
        ["twice"],
    ),
    ("sizes-numbers", '[matrix]\nsizes = [10]\nstrategies = ["chunked"]\n', 2, ["list of strings"]),
    ("strategies-empty", '[matrix]\nsizes = ["small"]\nstrategies = []\n', 3, ["'strategies'"]),
    (
        "strategy-unknown",
        '[matrix]\nsizes = ["small"]\nstrategies = ["chunked", "nope"]\n',
        3,
        ["'strategies'", "unknown strategy 'nope'"],
    ),
    ("strategy-blank", '[matrix]\nsizes = ["small"]\nstrategies = [" "]\n', 3, ["empty entry"]),
    (
        "shared-object-string",
        MATRIX + 'shared_object = "false"\n',
        4,
        ["'shared_object' must be true or false, got \"false\""],
    ),
    ("memray-int", MATRIX + "memray = 1\n", 4, ["'memray' must be true or false"]),
    (
        "repeat-string",
        MATRIX + 'repeat = "3"\n',
        4,
        ["'repeat' must be a positive integer, got \"3\""],
    ),
    ("repeat-zero", MATRIX + "repeat = 0\n", 4, ["'repeat' must be a positive integer, got 0"]),
    ("repeat-bool", MATRIX + "repeat = true\n", 4, ["'repeat'", "got true"]),
    ("repeat-float", MATRIX + "repeat = 1.5\n", 4, ["'repeat'", "got 1.5"]),
    ("timeout-string", MATRIX + 'timeout = "fast"\n', 4, ["'timeout' must be a positive number"]),
    ("timeout-negative", MATRIX + "timeout = -1\n", 4, ["'timeout'", "got -1"]),
    (
        "concurrency-zero",
        MATRIX + "concurrency = [1, 0]\n",
        4,
        ["concurrency 0 is not a worker count"],
    ),
    (
        "concurrency-scalar-zero",
        MATRIX + "concurrency = 0\n",
        4,
        ["concurrency 0 is not a worker count"],
    ),
    ("concurrency-string", MATRIX + 'concurrency = "4"\n', 4, ["'concurrency' must be", 'got "4"']),
    ("concurrency-empty", MATRIX + "concurrency = []\n", 4, ["'concurrency' must be"]),
    (
        "concurrency-duplicate",
        MATRIX + "concurrency = [4, 4]\n",
        4,
        ["'concurrency' lists 4 twice"],
    ),
    (
        "pool-unknown",
        MATRIX + 'pool = "thread"\n',
        4,
        ["unknown pool 'thread' (did you mean 'threads'?)"],
    ),
    ("pool-list", MATRIX + 'pool = ["threads"]\n', 4, ["'pool' must be a string"]),
    ("backend-unknown", MATRIX + 'backend = "minlo"\n', 4, ["unknown backend 'minlo'", "minio"]),
    ("process-unknown", MATRIX + 'process = "page"\n', 4, ["unknown process step 'page'", "pages"]),
    (
        "memory-limit-int",
        MATRIX + "memory_limit = 512\n",
        4,
        ["'memory_limit' must be a size string"],
    ),
    (
        "memory-limit-malformed",
        MATRIX + 'memory_limit = "1.5.0GB"\n',
        4,
        ["'memory_limit'", "malformed size"],
    ),
    (
        "split-part-bool",
        MATRIX + "split_part_size = true\n",
        4,
        ["'split_part_size' must be a size"],
    ),
    (
        "params-not-in-strategies",
        MATRIX + '\n[params.range]\npart_size = "8MiB"\n',
        5,
        ["[params.range]", "'range' is not in 'strategies'"],
    ),
    (
        "params-unknown-strategy",
        MATRIX + '[params.chunkd]\nchunk_size = "8MiB"\n',
        4,
        ["'chunkd' is not in 'strategies' (did you mean 'chunked'?)"],
    ),
    (
        "params-unknown-key",
        MATRIX + '[params.chunked]\nchunk_sz = "8MiB"\n',
        5,
        ["unknown key 'chunk_sz' in [params.chunked] (did you mean 'chunk_size'?)"],
    ),
    (
        "params-none-for-strategy",
        MATRIX + '[params.read-all]\nsize = "8MiB"\n',
        5,
        ["unknown key 'size' in [params.read-all]", "known keys: none"],
    ),
    (
        "params-bad-value",
        MATRIX + '[params.chunked]\n\nchunk_size = "big"\n',
        6,
        ["[params.chunked]: chunked.chunk_size: malformed size 'big'"],
    ),
    (
        "params-nested-list-value",
        MATRIX + "[params.chunked]\nchunk_size = [[1]]\n",
        5,
        ["'chunked.chunk_size' must be a string, number or true/false, or a list of them"],
    ),
    (
        "params-list-repeats-a-value",
        MATRIX + '[params.chunked]\nchunk_size = ["1MiB", "1MiB"]\n',
        5,
        ["'chunked.chunk_size': a list of values needs distinct values"],
    ),
    (
        "params-list-bad-value",
        MATRIX + '[params.chunked]\nchunk_size = ["1MiB", "huge"]\n',
        5,
        ["[params.chunked]: chunked.chunk_size:"],
    ),
    (
        "params-not-table",
        MATRIX + "[params]\nchunked = 5\n",
        5,
        ["'params.chunked' must be a table"],
    ),
    ("params-scalar", "params = 1\n" + MATRIX, 1, ["'params' must be tables"]),
    (
        "expect-missing",
        MATRIX + '[[expect]]\nstrategy = "read-all"\nmin_size = "1GB"\n',
        4,
        ["[[expect]] entry 1 is missing 'status', 'reason'"],
    ),
    (
        "expect-bad-status-second-entry",
        MATRIX
        + '[[expect]]\nstrategy = "read-all"\nmin_size = "1GB"\nstatus = "oom"\nreason = "r"\n'
        + '[[expect]]\nstrategy = "read-all"\nmin_size = "1GB"\nstatus = "crash"\nreason = "r"\n',
        12,
        ["[[expect]] entry 2", "unknown status 'crash'", "oom"],
    ),
    (
        "expect-unknown-key",
        MATRIX + '[[expect]]\nstrategy = "read-all"\nmin_sise = "1GB"\n',
        6,
        ["unknown key 'min_sise' in [[expect]] entry 1 (did you mean 'min_size'?)"],
    ),
    (
        "expect-strategy-not-in-matrix",
        MATRIX + '[[expect]]\nstrategy = "range"\nmin_size = "1GB"\nstatus = "oom"\nreason = "r"\n',
        5,
        ["strategy 'range' is not in 'strategies'"],
    ),
    (
        "expect-bad-size",
        MATRIX
        + '[[expect]]\nstrategy = "read-all"\nmin_size = "huge"\nstatus = "oom"\nreason = "r"\n',
        6,
        ["'min_size'", "malformed size 'huge'"],
    ),
    (
        "expect-size-int",
        MATRIX + '[[expect]]\nstrategy = "read-all"\nmin_size = 5\nstatus = "oom"\nreason = "r"\n',
        6,
        ["'min_size' must be a non-empty string, got 5"],
    ),
    (
        "expect-empty-reason",
        MATRIX
        + '[[expect]]\nstrategy = "read-all"\nmin_size = "1GB"\nstatus = "oom"\nreason = ""\n',
        8,
        ["'reason' must be a non-empty string"],
    ),
    ("expect-single-table", MATRIX + "[expect]\nstrategy = 'read-all'\n", 4, ["[[expect]]"]),
]


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [pytest.param(text, line, fragments, id=name) for name, text, line, fragments in BAD_FILES],
)
def test_a_bad_matrix_is_one_line_naming_file_line_and_key(
    tmp_path: Path, text: str, line: int | None, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        load_matrix(path)
    message = str(caught.value)
    assert "\n" not in message
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert message.startswith(prefix), message
    for fragment in fragments:
        assert fragment in message, message


def test_a_missing_or_unreadable_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(UsageError, match=r"nope\.toml: cannot read matrix file: No such file"):
        load_matrix(missing)
    with pytest.raises(UsageError, match=r"cannot read matrix file"):
        load_matrix(tmp_path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[matrix]")
    with pytest.raises(UsageError, match=r"binary\.toml: not UTF-8 text"):
        load_matrix(binary)


def test_the_relative_path_as_given_is_what_the_message_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "m.toml").write_text(MATRIX + "\n\n\nconcurency = 4\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        load_matrix(Path("fixtures/m.toml"))
    assert str(caught.value) == (
        "fixtures/m.toml:7: unknown key 'concurency' in [matrix] (did you mean 'concurrency'?)"
    )


def test_a_list_of_parameter_values_makes_a_set_of_cases_of_each(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[matrix]\nsizes = ["small"]\nstrategies = ["chunked", "range"]\nconcurrency = [1, 4]\n'
        '[params.chunked]\nchunk_size = ["1KiB", "8MiB"]\n',
    )
    spec = load_matrix(path)
    assert spec.params == {"chunked": {"chunk_size": ["1KiB", "8MiB"]}}
    params = {
        name: registry.resolve_params(registry.load(name), spec.params.get(name, {}))
        for name in spec.strategies
    }
    cases = build_cases(spec.sizes, spec.strategies, spec.concurrency, params)
    assert [(c.strategy, c.params.get("chunk_size"), c.concurrency) for c in cases] == [
        ("chunked", 1024, 1),
        ("chunked", 8 * 2**20, 1),
        ("range", None, 1),
        ("chunked", 1024, 4),
        ("chunked", 8 * 2**20, 4),
        ("range", None, 4),
    ]


def test_a_list_of_process_steps_makes_a_set_of_cases_of_each(tmp_path: Path) -> None:
    text = '[matrix]\nsizes = ["small"]\nstrategies = ["chunked"]\nprocess = ["pages", "text"]\n'
    spec = load_matrix(write(tmp_path, text))
    assert spec.process == ["pages", "text"]
    params = {"chunked": registry.resolve_params(registry.load("chunked"), {})}
    cases = build_cases(spec.sizes, spec.strategies, [1], params, process=spec.process)
    assert [c.process for c in cases] == ["pages", "text"]
    bad = '[matrix]\nsizes = ["small"]\nstrategies = ["chunked"]\nprocess = ["pages", "pages"]\n'
    with pytest.raises(UsageError, match="'process' lists \"pages\" twice"):
        load_matrix(write(tmp_path, bad))


@pytest.mark.parametrize("name", ["clients-matrix.toml", "regressions.toml"])
def test_the_client_matrices_are_valid(name: str) -> None:
    """The clients matrix and the regression corpus read cleanly (they need the extra)."""
    missing = registry.not_installed()
    if missing:
        pytest.skip(
            f"{name} names strategies that need pip install '{next(iter(missing.values()))}'"
        )
    spec = load_matrix(SEED_MATRIX.parent / name)
    assert spec.backend == "s3rver" and spec.memory_limit_bytes == 512 * 2**20
    if name == "regressions.toml":
        assert spec.expect and all(e.issue for e in spec.expect)

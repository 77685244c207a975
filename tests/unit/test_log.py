"""The one logger: its levels, its line shape and where tracebacks of handled errors show."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from memharness_s3 import log


@pytest.fixture(autouse=True)
def _restore_level() -> Iterator[None]:
    root = logging.getLogger(log.ROOT)
    level = root.level
    yield
    root.setLevel(level)


def test_verbosity_and_the_environment_choose_the_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(log.LEVEL_ENV, raising=False)
    assert [log.level_for(n) for n in (0, 1, 2, 5)] == [
        logging.WARNING,
        logging.INFO,
        logging.DEBUG,
        logging.DEBUG,
    ]
    monkeypatch.setenv(log.LEVEL_ENV, "ERROR")
    assert log.level_for(2) == logging.ERROR


def test_a_warning_is_one_line_in_the_shape_of_every_other(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(log.LEVEL_ENV, raising=False)
    log.configure(0)
    log.get("test").info("not shown by default")
    try:
        raise ValueError("the cause")
    except ValueError:
        log.get("test").warning("broker lost: %s", "gone", exc_info=True)
    assert capsys.readouterr().err == "memharness: warning: broker lost: gone\n"


def test_debug_shows_the_traceback_of_a_handled_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(log.LEVEL_ENV, raising=False)
    log.configure(2)
    try:
        raise ValueError("the cause")
    except ValueError:
        log.get("test").warning("broker lost", exc_info=True)
    err = capsys.readouterr().err
    assert err.startswith("memharness: warning: broker lost\nTraceback")
    assert "ValueError: the cause" in err


def test_an_unknown_level_name_is_said_once_and_warnings_stay_on(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(log.LEVEL_ENV, "loud")
    log.configure(0)
    assert "MEMHARNESS_LOG='loud' is not a level" in capsys.readouterr().err
    assert logging.getLogger(log.ROOT).level == logging.WARNING

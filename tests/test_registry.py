"""Strategy discovery through entry points, and parameter overrides."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

from memharness_s3.config import registry
from memharness_s3.errors import UsageError
from memharness_s3.strategies.base import Strategy

BUILT_INS = {"read-all", "chunked", "readinto", "range", "transfer-manager", "textract-direct"}


def test_built_ins_are_registered_through_the_entry_point_group() -> None:
    assert set(registry.available()) >= BUILT_INS
    for name in BUILT_INS:
        cls = registry.load(name)
        assert cls.name == name
        assert cls.description and "\n" not in cls.description
        assert isinstance(cls(), Strategy)


def test_unknown_strategy_names_the_registered_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown strategy 'nope'.*read-all"):
        registry.load("nope")


@pytest.mark.usefixtures("test_plugins")
def test_a_third_party_package_adds_strategies_without_touching_this_repo() -> None:
    assert {"test-raising", "test-corrupting", "test-littering"} <= set(registry.available())
    assert registry.load("test-raising").description == "raises before fetching anything"


def test_strategy_list_defaults_to_all_and_validates() -> None:
    assert set(registry.parse_strategy_list(None)) >= BUILT_INS
    assert registry.parse_strategy_list("chunked, range") == ["chunked", "range"]
    with pytest.raises(UsageError):
        registry.parse_strategy_list("chunked,nope")


def test_params_are_coerced_to_their_defaults_types() -> None:
    overrides = registry.parse_param_overrides(
        [
            "transfer-manager.multipart_chunksize=16MiB",
            "transfer-manager.use_threads=false",
            "textract-direct.poll_interval_s=0.1",
        ]
    )
    tm = registry.resolve_params(registry.load("transfer-manager"), overrides["transfer-manager"])
    assert tm["multipart_chunksize"] == 16 * 2**20 and tm["use_threads"] is False
    assert tm["max_concurrency"] == 10
    td = registry.resolve_params(registry.load("textract-direct"), overrides["textract-direct"])
    assert td["poll_interval_s"] == 0.1


@pytest.mark.parametrize(
    "item",
    ["chunked.chunk_size", "chunk_size=1MB", ".chunk_size=1", "chunked.=1"],
)
def test_malformed_param_overrides(item: str) -> None:
    with pytest.raises(UsageError, match=r"STRATEGY\.NAME=VALUE"):
        registry.parse_param_overrides([item])


def test_bad_param_values() -> None:
    with pytest.raises(UsageError, match="true or false"):
        registry.resolve_params(registry.load("transfer-manager"), {"use_threads": "maybe"})
    with pytest.raises(UsageError, match="has no parameter"):
        registry.resolve_params(registry.load("read-all"), {"chunk_size": "1MB"})


@pytest.mark.usefixtures("test_plugins")
def test_a_strategy_whose_extra_is_missing_is_not_installed_rather_than_broken() -> None:
    assert registry.not_installed()["test-needs-extra"] == "memharness-test-plugins[client]"
    assert "test-needs-extra" not in registry.available()
    assert "test-needs-extra" not in registry.broken()
    with pytest.raises(UsageError) as caught:
        registry.parse_strategy_list("chunked,test-needs-extra")
    assert str(caught.value) == (
        "strategy 'test-needs-extra' needs memharness_no_such_client, which is not installed: "
        "install 'memharness-test-plugins[client]' "
        "(pip install 'memharness-test-plugins[client]')"
    )


@pytest.mark.usefixtures("test_plugins")
def test_strategies_names_the_extra_to_install_without_a_warning() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "memharness_s3.cli", "strategies"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert "test-needs-extra" not in proc.stderr
    assert (
        "test-needs-extra   not installed: pip install 'memharness-test-plugins[client]'"
        in proc.stdout.splitlines()
    )


def test_opt_in_strategies_run_only_when_named() -> None:
    opt_in = {
        name for name in registry.available() if getattr(registry.load(name), "opt_in", False)
    }
    default = set(registry.parse_strategy_list(None))
    assert default >= BUILT_INS
    assert not default & opt_in
    assert set(registry.available()) == default | opt_in


def test_client_libraries_are_named_with_their_installed_versions() -> None:
    if "s3fs" in registry.not_installed():
        pytest.skip("pip install 'memharness-s3[clients]'")
    assert registry.libraries("s3fs") == {
        "s3fs": version("s3fs"),
        "aiobotocore": version("aiobotocore"),
    }
    assert registry.libraries("chunked") == {}

"""Faults between the workers and S3: the spec parser, the proxy, and what each fault makes of a
run of every built-in strategy (against real moto server processes on loopback)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from memharness_s3.analysis.identity import key_of_case
from memharness_s3.config.matrix import load_matrix
from memharness_s3.errors import UsageError
from memharness_s3.execution.local.runner import run_all, run_case
from memharness_s3.model.records import RunResult
from memharness_s3.plan.runs import build_cases
from memharness_s3.results.writer import ResultsWriter
from memharness_s3.s3.backends import DEFAULT_REGION, Backend
from memharness_s3.s3.backends.moto_server import MotoServer
from memharness_s3.s3.faults.inject import check_fault_backend, launch_proxy
from memharness_s3.s3.faults.proxy import HEALTH_PATH
from memharness_s3.s3.faults.spec import Kind, parse_fault, parse_fault_list
from memharness_s3.s3.fixture_cache import Fixture
from memharness_s3.s3.objects import make_client
from tests.support.services import BUCKET, planned

STRATEGIES = ("read-all", "chunked", "range", "transfer-manager", "textract-direct")
DOWNLOADERS = STRATEGIES[:-1]
SIZE = 4 * 10**6
TIMEOUT_S = 60.0


# --- the spec parser -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "field", "value"),
    [
        ("reset-mid-body@30%", Kind.RESET_MID_BODY, "fraction", 0.3),
        ("reset-mid-body@0%", Kind.RESET_MID_BODY, "fraction", 0.0),
        ("truncate", Kind.TRUNCATE, "fraction", 0.5),
        ("truncate@12.5%", Kind.TRUNCATE, "fraction", 0.125),
        ("slowdown-503:3", Kind.SLOWDOWN_503, "count", 3),
        ("error-500:2", Kind.ERROR_500, "count", 2),
        ("latency:200ms", Kind.LATENCY, "delay_s", 0.2),
        ("latency:1.5s", Kind.LATENCY, "delay_s", 1.5),
        ("bandwidth:20MB/s", Kind.BANDWIDTH, "bytes_per_s", 20 * 10**6),
        ("bandwidth:1MiB/s", Kind.BANDWIDTH, "bytes_per_s", 2**20),
        (" backend-kill@30% ", Kind.BACKEND_KILL, "fraction", 0.3),
    ],
)
def test_good_specs(text: str, kind: Kind, field: str, value: float) -> None:
    fault = parse_fault(text)
    assert fault.kind is kind
    assert getattr(fault, field) == pytest.approx(value)
    assert fault.text == text.strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "unknown fault ''"),
        ("reset", "unknown fault 'reset'"),
        ("reset-mid-body", "takes a share of the body"),
        ("reset-mid-body@30", "percentage below 100"),
        ("reset-mid-body@100%", "percentage below 100"),
        ("reset-mid-body:30%", "takes a share of the body"),
        ("truncate:5", "nothing or a share of the body"),
        ("slowdown-503", "takes a request count"),
        ("slowdown-503:0", "request count of 1 or more"),
        ("error-500:two", "request count of 1 or more"),
        ("latency:200", "positive duration"),
        ("latency:0ms", "positive duration"),
        ("bandwidth:20MB", "rate such as 20MB/s"),
        ("bandwidth:fast/s", "rate such as 20MB/s"),
        ("backend-kill", "takes a share of the body"),
    ],
)
def test_malformed_specs_are_one_line_usage_errors(text: str, expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_fault(text)
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert message.startswith(f"malformed fault {text.strip()!r}")


def test_fault_lists_take_none_and_refuse_repeats() -> None:
    assert parse_fault_list(["none", "truncate"]) == [None, "truncate"]
    with pytest.raises(UsageError, match="given twice"):
        parse_fault_list(["truncate", "truncate"])


def test_matrix_faults_and_cases(tmp_path: Path) -> None:
    matrix = tmp_path / "m.toml"
    matrix.write_text(
        '[matrix]\nsizes = ["4MB"]\nstrategies = ["chunked"]\nfaults = ["none", "latency:200ms"]\n'
    )
    spec = load_matrix(matrix)
    assert spec.faults == [None, "latency:200ms"]
    cases = build_cases(spec.sizes, spec.strategies, [1], {"chunked": {}}, faults=spec.faults)
    assert [case.fault for case in cases] == [None, "latency:200ms"]
    ids = {key_of_case(case, "fixtures/x.pdf", "moto").case_id for case in cases}
    assert len(ids) == 2
    matrix.write_text('[matrix]\nsizes = ["4MB"]\nstrategies = ["chunked"]\nfaults = ["x"]\n')
    with pytest.raises(UsageError, match=r"m.toml:4: 'faults': malformed fault 'x'"):
        load_matrix(matrix)


def test_faults_the_proxy_cannot_serve_are_usage_errors() -> None:
    check_fault_backend(parse_fault("backend-kill@30%"), "s3rver", "http://127.0.0.1:1")
    with pytest.raises(UsageError, match="needs one the harness launches"):
        check_fault_backend(parse_fault("backend-kill@30%"), "endpoint", "http://127.0.0.1:1")
    with pytest.raises(UsageError, match="plain http://"):
        check_fault_backend(parse_fault("truncate"), "endpoint", "https://s3.amazonaws.com")
    with pytest.raises(UsageError, match="plain http://"):
        check_fault_backend(parse_fault("truncate"), "endpoint", None)


# --- the proxy alone -------------------------------------------------------------------------


def _client(url: str, access_key: str, secret: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret, region_name=DEFAULT_REGION
    )
    return session.client("s3", endpoint_url=url)


def _health(url: str) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", HEALTH_PATH)
        return dict(json.loads(connection.getresponse().read()))
    finally:
        connection.close()


@pytest.mark.integration
def test_the_proxy_forwards_every_kind_of_call_unchanged(
    moto_backend: Backend, tmp_path: Path
) -> None:
    assert moto_backend.endpoint_url is not None
    data = os.urandom(3 * 10**6 + 7)
    credentials = moto_backend.worker_env
    with launch_proxy(moto_backend.endpoint_url, None, tmp_path / "proxy.log") as url:
        s3 = _client(url, credentials["AWS_ACCESS_KEY_ID"], credentials["AWS_SECRET_ACCESS_KEY"])
        s3.put_object(Bucket=BUCKET, Key="proxied.bin", Body=data)
        assert s3.get_object(Bucket=BUCKET, Key="proxied.bin")["Body"].read() == data
        ranged = s3.get_object(Bucket=BUCKET, Key="proxied.bin", Range="bytes=1000-2999999")
        assert ranged["Body"].read() == data[1000:3_000_000]
        assert s3.head_object(Bucket=BUCKET, Key="proxied.bin")["ContentLength"] == len(data)
        path = tmp_path / "download.bin"
        s3.download_file(BUCKET, "proxied.bin", str(path))
        assert path.read_bytes() == data
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="proxied")["Contents"]
        assert [item["Key"] for item in listed] == ["proxied.bin"]
        with pytest.raises(ClientError, match="NoSuchKey"):
            s3.get_object(Bucket=BUCKET, Key="missing.bin")
        s3.delete_object(Bucket=BUCKET, Key="proxied.bin")
        health = _health(url)
    assert health["fault"] is None and health["injected"] == 0
    assert health["requests"] >= 5  # object GETs and HEADs, the control path not counted


@pytest.mark.integration
def test_signatures_stay_valid_through_the_proxy_because_host_is_kept(tmp_path: Path) -> None:
    """moto checks SigV4 (Host included) once its auth is on; the proxy must not break it."""
    with MotoServer(tmp_path / "moto.log") as moto_url:
        setup = boto3.session.Session(
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="setup",
            region_name=DEFAULT_REGION,
        )
        iam = setup.client("iam", endpoint_url=moto_url)
        iam.create_user(UserName="worker")
        key = iam.create_access_key(UserName="worker")["AccessKey"]
        allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        policy = {"Version": "2012-10-17", "Statement": [allow_all]}
        iam.put_user_policy(UserName="worker", PolicyName="all", PolicyDocument=json.dumps(policy))
        direct = setup.client("s3", endpoint_url=moto_url)
        direct.create_bucket(Bucket="signed")
        direct.put_object(Bucket="signed", Key="k", Body=b"signed bytes")
        port = int(moto_url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("POST", "/moto-api/reset-auth", body=b"0")  # verify from now on
        assert connection.getresponse().status == 200
        with launch_proxy(moto_url, None, tmp_path / "proxy.log") as proxy_url:
            good = _client(proxy_url, key["AccessKeyId"], key["SecretAccessKey"])
            assert good.get_object(Bucket="signed", Key="k")["Body"].read() == b"signed bytes"
            wrong = _client(proxy_url, key["AccessKeyId"], "not-the-secret")
            with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
                wrong.get_object(Bucket="signed", Key="k")
            # The control: the same signed request with Host rewritten to moto's own address
            # (what a proxy that "fixed up" Host would send) is rejected.
            request = AWSRequest("GET", f"{proxy_url}/signed/k")
            credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
            S3SigV4Auth(credentials, "s3", DEFAULT_REGION).add_auth(request)
            for host, status in ((proxy_url, 200), (moto_url, 403)):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.putrequest("GET", "/signed/k", skip_host=True)
                connection.putheader("Host", host.removeprefix("http://"))
                for name, value in request.headers.items():
                    connection.putheader(name, value)
                connection.endheaders()
                assert connection.getresponse().status == status


# --- every strategy under every fault, in-process through the runner ------------------------


@pytest.fixture()
def fixture_4mb(uploaded: Callable[[int], Fixture]) -> Fixture:
    return uploaded(SIZE)


@pytest.fixture()
def default_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's current defaults (standard mode, 3 attempts) in the workers, whatever this
    shell sets and whichever botocore is installed: botocore before 1.44 (which the clients
    extra's aiobotocore pins) defaults to the legacy mode, 5 attempts."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)


def _run_faulted(
    fault: str, backend: Backend, fixture: Fixture, out: Path, strategies: tuple[str, ...]
) -> dict[str, RunResult]:
    runs = [
        planned(fixture, strategy, backend=backend.name, fault=fault) for strategy in strategies
    ]
    results = run_all(runs, backend, ResultsWriter(out), timeout_s=TIMEOUT_S)
    _assert_never_ok_with_wrong_bytes(results)
    _assert_scratch_removed(results)
    assert all(r.fault == fault for r in results)
    return {r.strategy: r for r in results}


def _assert_never_ok_with_wrong_bytes(results: list[RunResult]) -> None:
    for result in results:
        if result.status == "ok" and result.strategy != "textract-direct":
            assert result.verified is True and result.bytes_fetched == SIZE, result
        if result.status != "ok":
            assert result.verified is not True and result.error and result.error_type


def _assert_scratch_removed(results: list[RunResult]) -> None:
    for result in results:
        assert not list(Path(tempfile.gettempdir()).glob(f"memharness-*-{result.run_id}-*"))


@pytest.mark.integration
@pytest.mark.usefixtures("default_retries")
@pytest.mark.parametrize("fault", ["slowdown-503:2", "error-500:2"])
def test_retried_errors_end_ok_with_the_retries_counted(
    fault: str, moto_backend: Backend, fixture_4mb: Fixture, tmp_path: Path
) -> None:
    results = _run_faulted(fault, moto_backend, fixture_4mb, tmp_path, STRATEGIES)
    for result in results.values():
        assert result.status == "ok", result.error
        assert result.fault_injected == 2
        assert result.retries >= 2


@pytest.mark.integration
@pytest.mark.usefixtures("default_retries")
def test_more_503s_than_botocores_default_attempts_end_in_error(
    moto_backend: Backend, fixture_4mb: Fixture, tmp_path: Path
) -> None:
    results = _run_faulted("slowdown-503:3", moto_backend, fixture_4mb, tmp_path, STRATEGIES)
    for result in results.values():
        assert result.status == "error" and result.error_type == "ClientError"
        assert result.retries == 2  # standard mode: 3 attempts
        assert "reached max retries: 2" in (result.error or "")


@pytest.mark.integration
@pytest.mark.parametrize("fault", ["reset-mid-body@30%", "truncate"])
def test_cut_bodies_are_never_ok_with_wrong_bytes(
    fault: str, moto_backend: Backend, fixture_4mb: Fixture, tmp_path: Path
) -> None:
    results = _run_faulted(fault, moto_backend, fixture_4mb, tmp_path, STRATEGIES)
    for strategy in DOWNLOADERS:
        assert results[strategy].fault_injected == 1
    # One GET, read by the strategy itself: the broken stream is the strategy's error.
    for strategy in ("read-all", "chunked", "range"):
        assert results[strategy].status == "error"
    # s3transfer retries a broken body stream with a new GET (a call, not a botocore retry).
    assert results["transfer-manager"].status == "ok"
    # Below its limits textract-direct downloads nothing, so a body fault never fires.
    assert results["textract-direct"].status == "ok"
    assert results["textract-direct"].fault_injected == 0
    # What a failing strategy left is counted (chunked's partial file), then removed.
    cut = 0.3 if fault.startswith("reset") else 0.5
    chunked = results["chunked"]
    assert chunked.temp_files_left == 1 and chunked.temp_bytes_left <= SIZE * cut


@pytest.mark.integration
@pytest.mark.usefixtures("test_plugins")
def test_verification_catches_a_cut_body_a_strategy_ignored(
    moto_backend: Backend, fixture_4mb: Fixture, tmp_path: Path
) -> None:
    results = _run_faulted("truncate", moto_backend, fixture_4mb, tmp_path, ("test-swallowing",))
    result = results["test-swallowing"]
    assert result.status == "error" and result.error_type == "VerificationError"
    assert result.verified is False and result.bytes_fetched == SIZE // 2


@pytest.mark.integration
def test_latency_and_bandwidth_slow_runs_down_but_end_ok(
    moto_backend: Backend, fixture_4mb: Fixture, tmp_path: Path
) -> None:
    latency = _run_faulted("latency:200ms", moto_backend, fixture_4mb, tmp_path, STRATEGIES)
    bandwidth = _run_faulted("bandwidth:20MB/s", moto_backend, fixture_4mb, tmp_path, DOWNLOADERS)
    for result in [*latency.values(), *bandwidth.values()]:
        assert result.status == "ok", result.error
    for result in latency.values():
        assert result.fault_injected and result.fault_injected >= 1  # every object response
        assert result.wall_s is not None and result.wall_s >= 0.2 * 0.8
    for result in bandwidth.values():
        assert result.fault_injected and result.fault_injected >= 1  # every object GET body
        assert result.wall_s is not None and result.wall_s >= SIZE / (20 * 10**6) * 0.8


@pytest.mark.integration
def test_killing_the_backend_mid_body_is_an_error_or_a_timeout(
    moto_backend: Backend, fixture_4mb: Fixture, tmp_path: Path
) -> None:
    results = _run_faulted("backend-kill@30%", moto_backend, fixture_4mb, tmp_path, STRATEGIES)
    for strategy in DOWNLOADERS:
        assert results[strategy].status in ("error", "timeout"), results[strategy]
        assert results[strategy].fault_injected == 1
    assert results["textract-direct"].status == "ok"  # nothing downloaded, nothing cut
    # The run's own backend survived: a plain fetch still works.
    (after,) = run_case(planned(fixture_4mb, "chunked"), moto_backend, ResultsWriter(tmp_path), 60)
    assert after.status == "ok" and after.verified is True
    assert make_client(moto_backend).head_bucket(Bucket=BUCKET)


# --- workers that die of a signal ------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.usefixtures("test_plugins")
@pytest.mark.parametrize(
    ("strategy", "sig", "message"),
    [
        ("test-segfaulting", signal.SIGSEGV, "worker killed by SIGSEGV"),
        ("test-sigkilled", signal.SIGKILL, "worker killed by SIGKILL (not by the harness"),
    ],
)
def test_a_worker_killed_by_a_signal_is_recorded_with_it(
    strategy: str,
    sig: signal.Signals,
    message: str,
    moto_backend: Backend,
    fixture_4mb: Fixture,
    tmp_path: Path,
) -> None:
    (result,) = run_case(planned(fixture_4mb, strategy), moto_backend, ResultsWriter(tmp_path), 60)
    assert result.status == "error"
    assert result.signal == sig and result.exit_code is None
    assert result.error is not None and result.error.startswith(message)
    assert result.error_type == sig.name
    assert result.baseline_rss_bytes  # saved before the fetch, so the crash keeps it
    _assert_scratch_removed([result])

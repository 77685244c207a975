"""Strategies that misbehave on purpose, registered like a third-party package's would be."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path
from typing import Any, ClassVar

from memharness_s3.strategies.base import FetchContext, Fetched


class Raising:
    name: ClassVar[str] = "test-raising"
    description: ClassVar[str] = "raises before fetching anything"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        raise RuntimeError("boom from the test strategy\nsecond line is not recorded")


class Corrupting:
    name: ClassVar[str] = "test-corrupting"
    description: ClassVar[str] = "returns the object with one byte changed"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        data = bytearray(ctx.s3.get_object(Bucket=ctx.bucket, Key=ctx.key)["Body"].read())
        data[len(data) // 2] ^= 0xFF
        return Fetched(data=bytes(data))


class Littering:
    name: ClassVar[str] = "test-littering"
    description: ClassVar[str] = "downloads correctly but leaves a stray temp file behind"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        path = ctx.tmp_dir / "download.pdf"
        ctx.s3.download_file(ctx.bucket, ctx.key, str(path))
        (ctx.tmp_dir / "stray.tmp").write_bytes(b"x" * 1000)
        return Fetched(path=path)


class Segfaulting:
    name: ClassVar[str] = "test-segfaulting"
    description: ClassVar[str] = "reads address 0, so the worker dies of SIGSEGV"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        ctypes.string_at(0)
        raise AssertionError("reading address 0 did not crash")


class Sigkilled:
    name: ClassVar[str] = "test-sigkilled"
    description: ClassVar[str] = "SIGKILLs its own worker, as the kernel's OOM killer would"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("SIGKILL did not end the worker")


class Swallowing:
    name: ClassVar[str] = "test-swallowing"
    description: ClassVar[str] = "reads the body, ignores a broken stream, returns what it got"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        body = ctx.s3.get_object(Bucket=ctx.bucket, Key=ctx.key)["Body"]
        got = bytearray()
        try:
            while chunk := body.read(64 * 1024):
                got += chunk
        except Exception:  # the point: a careless strategy hands back a short body
            pass
        return Fetched(data=bytes(got))


class Sleeping:
    name: ClassVar[str] = "test-sleeping"
    description: ClassVar[str] = "sleeps, then fetches nothing: a task that outlives its limit"
    params: ClassVar[dict[str, Any]] = {"seconds": 60.0, "started_file": ""}
    """``started_file``: a path written as the sleep begins, for a test to wait on."""

    def fetch(self, ctx: FetchContext) -> Fetched:
        if ctx.params["started_file"]:
            Path(ctx.params["started_file"]).write_text(str(os.getpid()))
        time.sleep(float(ctx.params["seconds"]))
        return Fetched()


class Spiking:
    name: ClassVar[str] = "test-spiking"
    description: ClassVar[str] = "waits for a go file, holds spike_bytes briefly, then frees them"
    params: ClassVar[dict[str, Any]] = {
        "spike_bytes": 64 * 2**20,
        "go_file": "",
        "freed_file": "",
        "wait_s": 180.0,
    }
    """A spike the test times between two samples: it writes ``go_file`` while the sampler is
    between samples, and the sampler waits for ``freed_file`` before its next one."""

    def fetch(self, ctx: FetchContext) -> Fetched:
        go, freed = Path(ctx.params["go_file"]), Path(ctx.params["freed_file"])
        deadline = time.monotonic() + float(ctx.params["wait_s"])
        while not go.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{go} did not appear")
            time.sleep(0.001)
        spike = b"\x01" * int(ctx.params["spike_bytes"])  # every page written: resident
        del spike  # above glibc's mmap threshold: unmapped here, so RSS drops at once
        freed.write_text("freed")
        return Fetched()


class Environment:
    name: ClassVar[str] = "test-environment"
    description: ClassVar[str] = "reads the object whole; details: TEST_VALUE in its environment"
    params: ClassVar[dict[str, Any]] = {}

    def fetch(self, ctx: FetchContext) -> Fetched:
        data = ctx.s3.get_object(Bucket=ctx.bucket, Key=ctx.key)["Body"].read()
        return Fetched(data=data, details={"value": os.environ.get("TEST_VALUE")})

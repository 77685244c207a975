"""Strategies that misbehave on purpose, registered like a third-party package's would be."""

from __future__ import annotations

import ctypes
import os
import signal
import time
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
    params: ClassVar[dict[str, Any]] = {"seconds": 60.0}

    def fetch(self, ctx: FetchContext) -> Fetched:
        time.sleep(float(ctx.params["seconds"]))
        return Fetched()

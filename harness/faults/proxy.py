"""The fault-injecting HTTP proxy: ``python -m memharness_s3.s3.faults.proxy --port P --upstream
URL``.

It sits between the workers and the S3 endpoint, in its own process on 127.0.0.1 (the measured
worker must not pay for it), and forwards plain HTTP/1.1 with keep-alive: each client connection
gets its own upstream connection, request and response heads are passed on byte for byte (the
``Host`` header too, so botocore's SigV4 signature, computed over the Host it sent, stays valid;
only ``Expect: 100-continue``, which SigV4 does not sign, is answered here instead of upstream),
and bodies are relayed in their own framing (Content-Length, chunked, or until close).

Faults touch object requests only, ``GET`` and ``HEAD`` of ``/bucket/key`` (ranged or not);
everything else (bucket calls, uploads, deletes) passes untouched:

- ``slowdown-503:N`` / ``error-500:N``: the first N object requests (GETs and HEADs together) get
  S3's XML error from the proxy itself; upstream never sees them.
- ``latency``: each object response (its head) is held back that long.
- ``bandwidth``: object GET bodies are paced to the rate, all connections sharing it.
- ``reset-mid-body``, ``truncate``, ``backend-kill``: once per proxy (per run of a case), on the
  first object GET with a Content-Length body; after the given share of the body the client
  connection is reset (RST), closed (FIN, short of the Content-Length), or held while the runner
  kills the backend (the proxy creates ``--trip-file``), then closed when upstream dies. HEADs and
  chunked bodies are never cut.

``GET /__memharness_proxy/health`` is answered by the proxy: JSON with the fault, the requests
seen and how many times the fault acted: errors answered, responses delayed, bodies paced or cut
(how the runner learns whether the fault ever fired).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import struct
import sys
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

from memharness_s3.s3.faults.spec import NO_FAULT, Fault, Kind, parse_fault

CONTROL_PREFIX = "/__memharness_proxy/"
HEALTH_PATH = CONTROL_PREFIX + "health"
RELAY_BYTES = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024
TRIP_WAIT_S = 30.0
S3_ERRORS = {
    Kind.SLOWDOWN_503: (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    Kind.ERROR_500: (
        500,
        "Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
}
CUT_KINDS = (Kind.RESET_MID_BODY, Kind.TRUNCATE, Kind.BACKEND_KILL)


@dataclass
class Message:
    """An HTTP request or response head, kept as received so it can be forwarded unchanged."""

    start: str
    headers: list[tuple[str, str]]
    raw: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.header("Transfer-Encoding") or "").lower()

    @property
    def content_length(self) -> int | None:
        value = self.header("Content-Length")
        return int(value) if value is not None and value.strip().isdigit() else None

    @property
    def closes(self) -> bool:
        """Whether the connection ends after this message (HTTP/1.0 or ``Connection: close``)."""
        connection = (self.header("Connection") or "").lower()
        return "close" in connection or (
            self.start.upper().startswith("HTTP/1.0") and "keep-alive" not in connection
        )


@dataclass
class Stats:
    """What the health path reports, and the state of the counted and one-shot faults."""

    requests: int = 0
    injected: int = 0
    errors_left: int = 0
    cut_done: bool = False


@dataclass
class Bandwidth:
    """One shared link: each chunk is sent when its share of the rate has elapsed."""

    bytes_per_s: int
    next_free: float = field(default_factory=time.monotonic)

    async def pace(self, size: int) -> None:
        now = time.monotonic()
        self.next_free = max(now, self.next_free) + size / self.bytes_per_s
        await asyncio.sleep(self.next_free - now)


class Closed(Exception):
    """A peer broke the exchange: it closed in the middle of a message or sent a malformed one."""


@dataclass
class Link:
    """One client connection and the upstream connection that serves it (opened on demand)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def close(self) -> None:
        self.writer.close()
        if self.upstream is not None:
            self.upstream[1].close()


class Proxy:
    """Serves client connections, forwarding each request and injecting the fault on the way."""

    def __init__(
        self, upstream: tuple[str, int], fault: Fault | None, trip_file: Path | None
    ) -> None:
        self.upstream = upstream
        self.fault = fault
        self.trip_file = trip_file
        self.stats = Stats(errors_left=fault.count if fault else 0)
        self.bandwidth = (
            Bandwidth(fault.bytes_per_s) if fault and fault.kind is Kind.BANDWIDTH else None
        )

    async def serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        link = Link(reader, writer)
        try:
            while (request := await read_head(reader)) is not None:
                if not await self.exchange(request, link):
                    return
        except (Closed, OSError, asyncio.IncompleteReadError) as exc:
            log(f"connection ended: {type(exc).__name__}: {exc}")
        finally:
            link.close()

    async def exchange(self, request: Message, link: Link) -> bool:
        """Answer one request; whether the client connection stays open for the next."""
        method, path = _method_and_path(request)
        if path.startswith(CONTROL_PREFIX):
            await relay_body(request, link.reader, None)
            await self.answer_control(path, link.writer)
            return True
        is_object = method in ("GET", "HEAD") and _is_object_path(path)
        if is_object:
            self.stats.requests += 1
        fault = self.fault
        if is_object and fault and fault.kind in S3_ERRORS and self.stats.errors_left:
            self.stats.errors_left -= 1
            self.stats.injected += 1
            await relay_body(request, link.reader, None)
            log(f"{method} {path}: injected {fault.text}")
            await write_s3_error(link.writer, fault.kind, head_only=method == "HEAD")
            return True
        if link.upstream is not None and link.upstream[0].at_eof():
            link.upstream[1].close()  # upstream dropped the idle keep-alive connection
            link.upstream = None
        if link.upstream is None:
            try:
                link.upstream = await asyncio.open_connection(*self.upstream)
            except OSError as exc:
                log(f"{method} {path}: upstream unreachable ({exc}); closing the client")
                return False
        up_reader, up_writer = link.upstream
        if (request.header("Expect") or "").lower() == "100-continue":
            link.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        up_writer.write(_without_expect(request))
        await relay_body(request, link.reader, up_writer)
        response = await read_head(up_reader)
        if response is None:
            log(f"{method} {path}: upstream closed without a response; closing the client")
            return False
        if is_object and fault and fault.kind is Kind.LATENCY:
            self.stats.injected += 1
            await asyncio.sleep(fault.delay_s)
        link.writer.write(response.raw)
        status, length = _status(response), response.content_length
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            if is_object:
                log(f"{method} {path}: {status}, forwarded")
            await link.writer.drain()
            return not response.closes
        cut = self.take_cut(is_object and method == "GET", status, length)
        if cut is not None and length is not None:
            await self.cut_body(cut, length, path, link)
            return False
        if is_object:
            log(f"{method} {path}: {status}, forwarded")
        pace = self.bandwidth if is_object and method == "GET" else None
        if pace is not None:
            self.stats.injected += 1
        await relay_body(response, up_reader, link.writer, pace, until_close=True)
        return not (response.closes or (length is None and not response.chunked))

    def take_cut(self, object_get: bool, status: int, length: int | None) -> int | None:
        """How many body bytes to forward before the one-shot fault acts, or None."""
        fault = self.fault
        if fault is None or fault.kind not in CUT_KINDS or self.stats.cut_done:
            return None
        if not (object_get and status in (200, 206) and length):
            return None
        self.stats.cut_done = True
        self.stats.injected += 1
        return int(length * fault.fraction)

    async def cut_body(self, cut: int, length: int, path: str, link: Link) -> None:
        """Forward ``cut`` body bytes, then reset, close, or trip the backend kill."""
        assert self.fault is not None and link.upstream is not None
        await copy_bytes(link.upstream[0], link.writer, cut)
        await link.writer.drain()
        kind = self.fault.kind
        log(f"GET {path}: {kind.value} after {cut} of {length} body bytes")
        if kind is Kind.RESET_MID_BODY:
            sock = link.writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            link.writer.transport.abort()
        elif kind is Kind.BACKEND_KILL and self.trip_file is not None:
            self.trip_file.touch()
            closed = await _wait_for_close(link.upstream[0], TRIP_WAIT_S)
            log(f"GET {path}: upstream {'closed' if closed else 'still open'} after the trip")

    async def answer_control(self, path: str, writer: asyncio.StreamWriter) -> None:
        if path != HEALTH_PATH:
            await write_response(writer, 404, "Not Found", b"unknown proxy control path\n")
            return
        body = json.dumps(
            {
                "fault": self.fault.text if self.fault else None,
                "requests": self.stats.requests,
                "injected": self.stats.injected,
            }
        ).encode()
        await write_response(writer, 200, "OK", body, "application/json")


async def read_head(reader: asyncio.StreamReader) -> Message | None:
    """The next message head, or None if the peer closed cleanly between messages."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise Closed(f"closed inside a message head ({len(exc.partial)} bytes)") from None
        return None
    except asyncio.LimitOverrunError:
        raise Closed(f"message head over {MAX_HEAD_BYTES} bytes") from None
    lines = raw.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return Message(lines[0], headers, raw)


async def relay_body(
    message: Message,
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter | None,
    pace: Bandwidth | None = None,
    until_close: bool = False,
) -> None:
    """Pass ``message``'s body from ``source`` to ``sink`` (or drop it) in its own framing.

    ``until_close``: a message with neither Content-Length nor chunked framing (a response)
    runs until the peer closes.
    """
    if message.chunked:
        await _relay_chunked(source, sink, pace)
    elif message.content_length is not None:
        await copy_bytes(source, sink, message.content_length, pace)
    elif until_close:
        while chunk := await source.read(RELAY_BYTES):
            await _send(sink, chunk, pace)
    if sink is not None:
        await sink.drain()


async def copy_bytes(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter | None,
    count: int,
    pace: Bandwidth | None = None,
) -> None:
    left = count
    while left:
        chunk = await source.read(min(RELAY_BYTES, left))
        if not chunk:
            raise Closed(f"closed with {left} of {count} body bytes to go")
        left -= len(chunk)
        await _send(sink, chunk, pace)


async def _relay_chunked(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter | None, pace: Bandwidth | None
) -> None:
    while True:
        size_line = await source.readuntil(b"\r\n")
        await _send(sink, size_line, None)
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while (line := await source.readuntil(b"\r\n")) != b"\r\n":
                await _send(sink, line, None)
            await _send(sink, line, None)
            return
        await copy_bytes(source, sink, size, pace)
        await _send(sink, await source.readexactly(2), None)


async def _send(sink: asyncio.StreamWriter | None, data: bytes, pace: Bandwidth | None) -> None:
    if sink is None:
        return
    if pace is not None:
        await pace.pace(len(data))
    sink.write(data)
    await sink.drain()


async def _wait_for_close(reader: asyncio.StreamReader, timeout_s: float) -> bool:
    """Read and drop whatever upstream still sends until it closes; False on timeout."""
    try:
        async with asyncio.timeout(timeout_s):
            while await reader.read(RELAY_BYTES):
                pass
    except TimeoutError:
        return False
    except OSError:
        pass
    return True


async def write_s3_error(writer: asyncio.StreamWriter, kind: Kind, head_only: bool) -> None:
    status, reason, code, message = S3_ERRORS[kind]
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>memharness-fault-proxy</HostId></Error>"
    ).encode()
    await write_response(
        writer, status, reason, b"" if head_only else body, "application/xml", request_id
    )


async def write_response(
    writer: asyncio.StreamWriter,
    status: int,
    reason: str,
    body: bytes,
    content_type: str = "text/plain",
    request_id: str | None = None,
) -> None:
    headers = [
        f"HTTP/1.1 {status} {reason}",
        f"Date: {formatdate(usegmt=True)}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
    ]
    if request_id is not None:
        headers.append(f"x-amz-request-id: {request_id}")
    writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


def _method_and_path(request: Message) -> tuple[str, str]:
    parts = request.start.split(" ")
    if len(parts) != 3:
        raise Closed(f"malformed request line {request.start[:80]!r}")
    return parts[0].upper(), parts[1]


def _is_object_path(target: str) -> bool:
    """``/bucket/key`` (path-style, as botocore addresses a loopback endpoint)."""
    path = urlsplit(target).path
    bucket, _, key = path.lstrip("/").partition("/")
    return bool(bucket and key)


def _status(response: Message) -> int:
    parts = response.start.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise Closed(f"malformed status line {response.start[:80]!r}")
    return int(parts[1])


def _without_expect(request: Message) -> bytes:
    if request.header("Expect") is None:
        return request.raw
    lines = request.raw.decode("latin-1").split("\r\n")
    kept = [line for line in lines if not line.lower().startswith("expect:")]
    return "\r\n".join(kept).encode("latin-1")


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


async def serve(port: int, proxy: Proxy) -> None:
    server = await asyncio.start_server(proxy.serve_client, "127.0.0.1", port, limit=MAX_HEAD_BYTES)
    log(f"listening on 127.0.0.1:{port}, upstream {proxy.upstream[0]}:{proxy.upstream[1]}")
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memharness_s3.s3.faults.proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="http://HOST:PORT of the S3 endpoint")
    parser.add_argument("--fault", default="none", help="a fault spec, or none")
    parser.add_argument("--trip-file", type=Path, help="created when backend-kill trips")
    args = parser.parse_args(argv)
    upstream = urlsplit(args.upstream)
    if upstream.scheme != "http" or not upstream.hostname:
        parser.error(f"--upstream must be an http:// URL, got {args.upstream!r}")
    fault = None if args.fault == NO_FAULT else parse_fault(args.fault)
    proxy = Proxy((upstream.hostname, upstream.port or 80), fault, args.trip_file)
    asyncio.run(serve(args.port, proxy))
    return 0


if __name__ == "__main__":
    sys.exit(main())

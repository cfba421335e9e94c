"""One streamed request to an OpenAI-compatible endpoint, timed token by token.

The client is asyncio on the standard library's streams (no HTTP package): a load generator's own
cost lands in every TTFT it reports, so it stays small, and it is measured
(:func:`client_ttft_overhead_ms` against a loopback server that answers at once). Each request
opens its own connection (``Connection: close``), as a new user would; the connection's setup is
part of the request's TTFT.

A request is always streamed (``stream: true``), so the arrival of each content chunk is read:
the first is the time to first token (TTFT), the gaps between later ones the inter-token
latencies (ITL). Tokens received are counted from the server's ``usage`` block when it sends one
(``stream_options.include_usage``), else as content chunks (one token each on the servers this
project knows); the record says which.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

_NS_PER_MS = 1e6
MAX_ERROR_TEXT = 300


class RequestOutcome(StrEnum):
    """How a request ended: ``ok``, or the kind of fault counted per load level."""

    OK = "ok"
    TIMEOUT = "timeout"
    HTTP_ERROR = "http-error"
    TRUNCATED = "truncated"  # the stream ended before the server said it was done
    CONNECTION = "connection"  # refused, reset, or the server went away


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: ``base_url`` ends in ``/v1``; ``api`` is ``chat`` or ``completions``."""

    base_url: str
    served_model: str
    api: str = "chat"

    def __post_init__(self) -> None:
        if self.api not in ("chat", "completions"):
            raise ValueError(f"api must be 'chat' or 'completions', got {self.api!r}")

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def path(self) -> str:
        return "/chat/completions" if self.api == "chat" else "/completions"


@dataclass(frozen=True)
class RequestRecord:
    """One request: when it was due and sent, and when each content chunk came (ns from the load
    window's start), with how it ended."""

    scheduled_ns: int
    sent_ns: int
    chunk_ns: tuple[int, ...]
    done_ns: int
    outcome: RequestOutcome
    output_tokens: int
    prompt_tokens: int | None
    tokens_from_usage: bool
    text: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is RequestOutcome.OK

    @property
    def ttft_ns(self) -> int | None:
        """Sending to the first content chunk; an answer with no text (its first token ended
        the sequence) was complete, and so first seen, when it finished."""
        if self.chunk_ns:
            return self.chunk_ns[0] - self.sent_ns
        return self.done_ns - self.sent_ns if self.ok else None

    @property
    def e2e_ns(self) -> int:
        """From the scheduled arrival: a request the client sent late waited, as a user would."""
        return self.done_ns - self.scheduled_ns

    @property
    def itl_ns(self) -> list[int]:
        return [b - a for a, b in zip(self.chunk_ns, self.chunk_ns[1:], strict=False)]

    @property
    def tpot_ns(self) -> float | None:
        """Time per output token after the first: (last chunk - first chunk) / (tokens - 1); 0
        when every token came in one chunk, ``None`` for an answer of one token or none."""
        if not self.chunk_ns or self.output_tokens < 2:
            return None
        return (self.chunk_ns[-1] - self.chunk_ns[0]) / (self.output_tokens - 1)


@dataclass(frozen=True)
class RequestBody:
    """What one request asks for; ``forced`` adds ``min_tokens``/``ignore_eos`` (the server must
    take them: some refuse unknown fields, see :func:`probe_forcing`)."""

    prompt: str
    max_tokens: int
    forced: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def json_for(self, endpoint: Endpoint) -> bytes:
        body: dict[str, Any] = {
            "model": endpoint.served_model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": self.max_tokens,
            "temperature": 0.0,
        }
        if endpoint.api == "chat":
            body["messages"] = [{"role": "user", "content": self.prompt}]
        else:
            body["prompt"] = self.prompt
        if self.forced:
            body.update(min_tokens=self.max_tokens, ignore_eos=True)
        body.update(self.extra)
        return json.dumps(body).encode()


class HTTPStatusError(Exception):
    """The server answered with a status other than 200."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text[:MAX_ERROR_TEXT]}")
        self.status = status
        self.text = text


async def _open(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    secure = urlsplit(endpoint.base_url).scheme == "https"
    context = ssl.create_default_context() if secure else None
    return await asyncio.open_connection(endpoint.host, endpoint.port, ssl=context)


def _request_bytes(endpoint: Endpoint, method: str, path: str, body: bytes = b"") -> bytes:
    base_path = urlsplit(endpoint.base_url).path.rstrip("/")
    head = (
        f"{method} {base_path}{path} HTTP/1.1\r\nHost: {endpoint.host}:{endpoint.port}\r\n"
        "Accept: text/event-stream, application/json\r\nConnection: close\r\n"
        "User-Agent: benchsuite\r\n"
    )
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection without answering")
    parts = status_line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return status, headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


async def _body_pieces(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> Any:
    """The body as it arrives: de-chunked when the server uses chunked transfer encoding."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await reader.readline()
            if not size_line:
                raise ConnectionError("the stream ended inside a chunk")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return
            data = await reader.readexactly(size)
            await reader.readexactly(2)
            yield data
    elif "content-length" in headers:
        yield await reader.readexactly(int(headers["content-length"]))
    else:
        while data := await reader.read(65536):
            yield data


async def get_json(endpoint: Endpoint, path: str, timeout_s: float) -> tuple[Any, dict[str, str]]:
    """``GET base_url + path``: the decoded JSON and the response's headers."""

    async def get() -> tuple[Any, dict[str, str]]:
        reader, writer = await _open(endpoint)
        try:
            writer.write(_request_bytes(endpoint, "GET", path))
            await writer.drain()
            status, headers = await _read_head(reader)
            body = b"".join([piece async for piece in _body_pieces(reader, headers)])
        finally:
            writer.close()
        if status != 200:
            raise HTTPStatusError(status, body.decode(errors="replace"))
        return json.loads(body), headers

    return await asyncio.wait_for(get(), timeout_s)


class _EventStream:
    """The server-sent events of one answer, fed as bytes arrive: content chunks with their
    arrival times, the ``usage`` block, and whether the server said it was done."""

    def __init__(self) -> None:
        self.chunk_ns: list[int] = []
        self.texts: list[str] = []
        self.usage: dict[str, Any] = {}
        self.finished = False
        self._pending = b""

    def feed(self, data: bytes, now_ns: int) -> None:
        self._pending += data
        while b"\n\n" in self._pending:
            event, self._pending = self._pending.split(b"\n\n", 1)
            for line in event.splitlines():
                if line.startswith(b"data:"):
                    self._message(line[5:].strip(), now_ns)

    def _message(self, data: bytes, now_ns: int) -> None:
        if data == b"[DONE]":
            self.finished = True
            return
        message = json.loads(data)
        if message.get("usage"):
            self.usage.update(message["usage"])
        for choice in message.get("choices") or ():
            text = _content(choice)
            if text:
                self.chunk_ns.append(now_ns)
                self.texts.append(text)
            if choice.get("finish_reason"):
                self.finished = True


async def _exchange(
    endpoint: Endpoint, body: RequestBody, events: _EventStream, origin_ns: int
) -> None:
    reader, writer = await _open(endpoint)
    try:
        writer.write(_request_bytes(endpoint, "POST", endpoint.path, body.json_for(endpoint)))
        await writer.drain()
        status, headers = await _read_head(reader)
        if status != 200:
            text = b"".join([piece async for piece in _body_pieces(reader, headers)])
            raise HTTPStatusError(status, text.decode(errors="replace"))
        async for piece in _body_pieces(reader, headers):
            events.feed(piece, time.perf_counter_ns() - origin_ns)
    finally:
        writer.close()


async def stream_request(
    endpoint: Endpoint,
    body: RequestBody,
    scheduled_ns: int,
    origin_ns: int,
    timeout_s: float,
) -> RequestRecord:
    """Send ``body``, read the event stream, and time each content chunk. Never raises for a
    fault of the server or the network: the record's outcome says what happened."""
    sent_ns = time.perf_counter_ns() - origin_ns
    events = _EventStream()
    outcome, error = RequestOutcome.OK, ""
    try:
        await asyncio.wait_for(_exchange(endpoint, body, events, origin_ns), timeout_s)
        if not events.finished:
            outcome, error = RequestOutcome.TRUNCATED, "the stream ended without a finish_reason"
    except TimeoutError:
        outcome, error = RequestOutcome.TIMEOUT, f"no complete answer within {timeout_s:g} s"
    except HTTPStatusError as failure:
        outcome, error = RequestOutcome.HTTP_ERROR, str(failure)
    except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as failure:
        outcome, error = RequestOutcome.CONNECTION, f"{type(failure).__name__}: {failure}"
    done_ns = time.perf_counter_ns() - origin_ns
    usage = events.usage
    from_usage = "completion_tokens" in usage
    return RequestRecord(
        scheduled_ns,
        sent_ns,
        tuple(events.chunk_ns),
        done_ns,
        outcome,
        int(usage["completion_tokens"]) if from_usage else len(events.chunk_ns),
        int(usage["prompt_tokens"]) if "prompt_tokens" in usage else None,
        from_usage,
        "".join(events.texts),
        error,
    )


def _content(choice: Mapping[str, Any]) -> str:
    delta = choice.get("delta")
    if isinstance(delta, Mapping):
        return str(delta.get("content") or delta.get("reasoning_content") or "")
    return str(choice.get("text") or "")


async def probe_forcing(endpoint: Endpoint, prompt: str, timeout_s: float) -> tuple[bool, str]:
    """Whether the server takes ``min_tokens``/``ignore_eos`` (vLLM and SGLang do; a server
    that validates its fields strictly answers 400 or 422 naming them), and what it said."""
    record = await stream_request(
        endpoint, RequestBody(prompt, 2, forced=True), 0, time.perf_counter_ns(), timeout_s
    )
    if record.ok:
        return True, "min_tokens and ignore_eos sent: output lengths forced"
    if record.outcome is RequestOutcome.HTTP_ERROR and (
        "min_tokens" in record.error or "ignore_eos" in record.error
    ):
        return False, (
            "the server refuses min_tokens/ignore_eos; max_tokens only: a request may end "
            "early at an end-of-sequence token (the tokens received are counted)"
        )
    raise ConnectionError(f"the endpoint's first request failed: {record.error}")


async def _instant_server(handle_ready: asyncio.Future[int]) -> asyncio.AbstractServer:
    """A loopback server that answers any request at once with one streamed token."""
    event = json.dumps({"choices": [{"index": 0, "delta": {"content": "x"}}]}).encode()
    last = json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}).encode()
    payload = b"data: " + event + b"\n\ndata: " + last + b"\n\ndata: [DONE]\n\n"

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: "
            + str(len(payload)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + payload
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    handle_ready.set_result(server.sockets[0].getsockname()[1])
    return server


def client_ttft_overhead_ms(requests: int = 50) -> float:
    """The median TTFT this client measures against a loopback server that answers at once: the
    client's own share of every TTFT it reports (connection, request, parsing)."""

    async def measure() -> float:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server = await _instant_server(ready)
        endpoint = Endpoint(f"http://127.0.0.1:{await ready}/v1", "instant")
        try:
            ttfts = []
            for _ in range(requests):
                origin = time.perf_counter_ns()
                record = await stream_request(endpoint, RequestBody("x", 1), 0, origin, 5.0)
                if record.ttft_ns is not None:
                    ttfts.append(record.ttft_ns)
        finally:
            server.close()
        ttfts.sort()
        return ttfts[len(ttfts) // 2] / _NS_PER_MS if ttfts else float("nan")

    return asyncio.run(measure())

"""A fault-injecting HTTP proxy for OpenAI-compatible model servers, on 127.0.0.1.

It forwards each request to the real server and, at configured rates, injects instead: a dropped
connection, a delay past the client's timeout, an HTTP 429 or 500, a truncated JSON body, a valid
JSON answer naming an action that does not exist, or a response that never ends. It keeps an exact
count of what it injected, so a test can compare those counts with the failures in a run's trace,
and of the answers that came too late: a client that gave up before the proxy had an answer saw a
timeout, whatever was drawn for it. A delayed request whose client has gone is not forwarded (it
would only keep a single-threaded model server from the requests after it).

    proxy = FaultProxy("http://127.0.0.1:8080", rates={"http_500": 0.1, "drop": 0.05}, seed=1)
    await proxy.start()            # proxy.url -> http://127.0.0.1:<port>
    ...
    proxy.counts                   # {"forwarded": 91, "http_500": 6, "drop": 3, ...}
    proxy.late                     # {"forwarded": 2}: answers the client no longer waited for
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

FAULTS = ("drop", "delay", "http_429", "http_500", "truncated_json", "invalid_action", "endless_stream")


class FaultProxy:
    """Forwards to ``upstream`` and injects faults at ``rates`` (fault -> probability per request)."""

    def __init__(self, upstream: str, rates: Mapping[str, float] | None = None, seed: int = 0,
                 delay: float = 5.0, host: str = "127.0.0.1", port: int = 0) -> None:
        unknown = set(rates or {}) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
        if sum((rates or {}).values()) > 1:
            raise ValueError("fault rates must sum to at most 1")
        self.upstream = upstream.rstrip("/")
        self.rates = dict(rates or {})
        self.rng = np.random.default_rng(seed)
        self.delay = delay
        self.host, self.port = host, port
        self.counts: Counter[str] = Counter()
        #: requests (by what was drawn) whose client had left before their answer: it saw a timeout
        self.late: Counter[str] = Counter()
        self._server: asyncio.AbstractServer | None = None
        self._client: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        import httpx

        self._client = httpx.AsyncClient(timeout=httpx.Timeout(600.0))
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self._client is not None:
            await self._client.aclose()

    def _pick(self) -> str:
        draw, edge = self.rng.random(), 0.0
        for fault in FAULTS:
            edge += self.rates.get(fault, 0.0)
            if draw < edge:
                return fault
        return "forwarded"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        fault = self._pick() if path.startswith("/v1/") and method == "POST" else "forwarded"
        self.counts[fault] += 1
        try:
            await self._respond(fault, method, path, headers, body, reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(self, fault: str, method: str, path: str, headers: dict[str, str], body: bytes,
                       reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if fault == "drop":
            writer.transport.abort()
            return
        if fault in ("http_429", "http_500"):
            status = 429 if fault == "http_429" else 500
            self._write(writer, status, json.dumps({"error": {"message": f"injected {status}"}}).encode())
            return
        if fault == "endless_stream":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            while True:  # until the client gives up and closes the connection
                writer.write(b"1\r\n \r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
        if fault == "delay":
            await asyncio.sleep(self.delay)
            if reader.at_eof():  # the client gave up: the delay did its work, the model need not answer
                return
        forward = {k: v for k, v in headers.items() if k not in ("host", "content-length", "connection")}
        response = await self._client.request(method, self.upstream + path, content=body, headers=forward)
        if reader.at_eof():  # the client closed the connection while the model answered: it timed out
            self.late[fault] += 1
            return
        payload = response.content
        if fault == "truncated_json":
            payload = payload[: max(1, len(payload) // 2)]
        elif fault == "invalid_action":
            payload = _with_invalid_action(payload)
        self._write(writer, response.status_code, payload)
        await writer.drain()

    @staticmethod
    def _write(writer: asyncio.StreamWriter, status: int, payload: bytes) -> None:
        reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error"}.get(status, "Status")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload
        )


INVALID_ACTION = {"action": "launch_rocket", "args": {"target": "moon"}}


def _with_invalid_action(payload: bytes) -> bytes:
    """Replace the generated text with valid JSON naming an action no world has."""
    try:
        data = json.loads(payload)
        for choice in data.get("choices", []):
            if "message" in choice:
                choice["message"]["content"] = json.dumps(INVALID_ACTION)
            else:
                choice["text"] = json.dumps(INVALID_ACTION)
        return json.dumps(data).encode()
    except (ValueError, AttributeError, TypeError):
        return json.dumps(INVALID_ACTION).encode()

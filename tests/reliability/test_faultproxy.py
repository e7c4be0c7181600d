from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from populace.reliability.faultproxy import INVALID_ACTION, FaultProxy

ANSWER = {"choices": [{"message": {"role": "assistant", "content": '{"action": "like_post", "args": {"post": 1}}'}}]}


async def upstream_server() -> tuple[asyncio.AbstractServer, str]:
    """A tiny stand-in for a model server: answers every POST with ANSWER."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
        await reader.readexactly(length)
        body = json.dumps(ANSWER).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def classify(client: httpx.AsyncClient, url: str) -> str:
    try:  # an overall deadline: a trickling endless stream never trips a per-read timeout
        response = await asyncio.wait_for(client.post(url + "/v1/chat/completions", json={"messages": []}), 0.5)
    except (httpx.TimeoutException, TimeoutError):
        return "timeout"
    except httpx.TransportError:
        return "drop"
    if response.status_code != 200:
        return f"http_{response.status_code}"
    try:
        content = json.loads(response.json()["choices"][0]["message"]["content"])
    except (ValueError, KeyError):
        return "truncated_json"
    return "invalid_action" if content == INVALID_ACTION else "forwarded"


def test_every_injected_fault_is_seen_by_the_client_and_counted_exactly() -> None:
    async def main() -> None:
        server, upstream = await upstream_server()
        rates = {"drop": 0.1, "delay": 0.1, "http_429": 0.1, "http_500": 0.1,
                 "truncated_json": 0.1, "invalid_action": 0.1, "endless_stream": 0.1}
        proxy = FaultProxy(upstream, rates, seed=7, delay=2.0)
        await proxy.start()
        seen: dict[str, int] = {}
        async with httpx.AsyncClient(timeout=httpx.Timeout(0.5)) as client:
            for _ in range(60):
                kind = await classify(client, proxy.url)
                seen[kind] = seen.get(kind, 0) + 1
        await proxy.stop()
        server.close()
        counts = dict(proxy.counts)
        assert sum(counts.values()) == 60
        assert seen.get("timeout", 0) == counts.get("delay", 0) + counts.get("endless_stream", 0)
        for kind in ("drop", "http_429", "http_500", "truncated_json", "invalid_action", "forwarded"):
            assert seen.get(kind, 0) == counts.get(kind, 0), (kind, seen, counts)
        assert len(counts) >= 6  # most kinds were drawn at these rates

    asyncio.run(main())


def test_an_answer_after_the_client_left_is_late_and_a_delay_it_left_is_not_forwarded() -> None:
    async def main() -> None:
        asked = 0

        async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal asked
            asked += 1
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.6)  # past the client's 0.3 s
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            writer.close()

        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        upstream = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with httpx.AsyncClient(timeout=httpx.Timeout(0.3)) as client:
            for rates in ({}, {"delay": 1.0}):
                proxy = FaultProxy(upstream, rates, seed=1, delay=0.5)
                await proxy.start()
                with pytest.raises(httpx.TimeoutException):
                    await client.post(proxy.url + "/v1/chat/completions", json={"messages": []})
                await asyncio.sleep(1.0)  # the proxy finishes with the request
                await proxy.stop()
                late = dict(proxy.late)
                assert late == ({"forwarded": 1} if not rates else {}), late
        server.close()
        assert asked == 1  # the delayed request was not sent on: its client had gone

    asyncio.run(main())


def test_bad_rates_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FaultProxy("http://127.0.0.1:1", {"explode": 0.5})
    with pytest.raises(ValueError, match="sum to at most 1"):
        FaultProxy("http://127.0.0.1:1", {"drop": 0.6, "http_500": 0.6})

"""Several servers of one model: least-loaded routing within each server's limit, one cache."""

from __future__ import annotations

import asyncio
import json

import httpx

from populace.llm.backends.fleet import FleetBackend
from populace.llm.backends.openai import OpenAIBackend
from populace.llm.base import Sampling
from populace.llm.cache import ResponseCache
from populace.llm.client import LanguageModel, create_backend, parse_spec


class SlowServer:
    """Answers after a short delay and records how many requests it held at once."""

    def __init__(self) -> None:
        self.in_flight = self.most = self.answered = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        self.answered += 1
        prompt = json.loads(request.content)["messages"][-1]["content"]
        return httpx.Response(200, json={"choices": [{"message": {"content": f"echo {prompt}"}}]})


def test_requests_spread_over_servers_within_each_limit_and_answers_keep_their_order() -> None:
    servers = [SlowServer(), SlowServer()]
    members = [OpenAIBackend(f"http://gpu-{i}/v1", "m", transport=httpx.MockTransport(s)) for i, s in enumerate(servers)]
    fleet = FleetBackend(members, [2, 6])
    lm = LanguageModel(fleet, cache=ResponseCache(), concurrency=8)

    async def main() -> list[str]:
        await lm.start()
        results = await lm.complete_many([f"q{i}" for i in range(40)], sampling=Sampling(max_tokens=4))
        await lm.aclose()
        return [r.text for r in results]  # type: ignore[union-attr]

    texts = asyncio.run(main())
    assert texts == [f"echo q{i}" for i in range(40)]
    assert servers[0].most <= 2 and servers[1].most <= 6
    assert servers[0].answered > 0 and servers[1].answered > servers[0].answered  # the bigger server takes more
    assert fleet.served == [servers[0].answered, servers[1].answered]


def test_a_fleet_from_a_scenario_spec_shares_the_single_server_cache_name() -> None:
    spec = parse_spec({"backend": "openai", "model": "m", "servers": [
        {"base_url": "http://a/v1", "concurrency": 4}, {"base_url": "http://b/v1", "concurrency": 12}]})
    backend = create_backend(spec)
    assert isinstance(backend, FleetBackend) and backend.limits == [4, 12]
    single = create_backend(parse_spec({"backend": "openai", "model": "m", "base_url": "http://a/v1"}))
    assert backend.name == single.name  # cache keys do not depend on routing

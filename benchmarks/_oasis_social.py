"""OASIS side of ``social_vs_oasis``: runs a script of actions through OASIS and writes its timings.

Runs under the OASIS environment's python (``benchmarks/.peers/oasis``), in a scratch working
directory (OASIS writes ``./log`` when imported):

    python _oasis_social.py SCRIPT.npz OUT.json [--llm]

The script holds, per step and user, the action kind and a uniform number that picks the target
(post or user) among those that exist when the step starts. Every user first refreshes their feed
(what an OASIS agent does before it decides) and then performs the scripted action, through
``env.step({agent: [ManualAction(REFRESH), ManualAction(...)]})``. The recommender
(``platform.update_rec_table``) is timed apart from the rest of each step.

With ``--llm`` every step after the first is ``env.step({agent: LLMAction()})`` instead: each
agent builds its prompt and asks a stub model, which answers with one tool call of the scripted
kind (then plain text, which ends CAMEL's tool loop). No model runs; what is timed is OASIS's
own agent path around a model call.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

import numpy as np

KINDS = ["create_post", "like_post", "repost", "follow", "do_nothing"]


def profiles(n: int, path: str) -> None:
    """``n`` users in OASIS's Reddit profile format (``data/reddit/user_data_36.json``)."""
    topics = ["cooking", "football", "astronomy", "gardening", "jazz", "crypto", "hiking", "chess"]
    users = [{"realname": f"User {i}", "username": f"user{i}", "bio": f"I like {topics[i % 8]}",
              "persona": f"User {i} likes {topics[i % 8]} and {topics[(i * 3 + 1) % 8]}.",
              "age": 20 + i % 50, "gender": "female" if i % 2 else "male", "mbti": "INTJ", "country": "UK"}
             for i in range(n)]
    with open(path, "w") as f:
        json.dump(users, f)


def tool_stub(kinds: list[str], picks: list[float], posts: list[int]) -> object:
    """A CAMEL stub model answering each prompt with the next scripted action as a tool call.

    ``posts`` holds the number of posts when the step starts and the number of users."""
    import time as clock

    from camel.models import StubModel
    from camel.types import ModelType
    from openai.types.chat import ChatCompletion, ChatCompletionMessage
    from openai.types.chat.chat_completion import Choice
    from openai.types.chat.chat_completion_message_tool_call import ChatCompletionMessageToolCall, Function
    from openai.types.completion_usage import CompletionUsage

    class ScriptedTools(StubModel):  # type: ignore[misc]
        async def _arun(self, messages, response_format=None, tools=None):  # type: ignore[no-untyped-def]
            last = messages[-1]
            role = last.get("role") if isinstance(last, dict) else getattr(last, "role", "")
            message = ChatCompletionMessage(role="assistant", content="done")
            if role != "tool" and kinds:
                kind, u = kinds.pop(), picks.pop()
                args = {"create_post": {"content": "a scripted post"}, "like_post": {"post_id": 1 + int(u * posts[0])},
                        "repost": {"post_id": 1 + int(u * posts[0])}, "follow": {"followee_id": 1 + int(u * posts[1])},
                        "do_nothing": {}}[kind]
                call = ChatCompletionMessageToolCall(id=f"call{len(kinds)}", type="function",
                                                     function=Function(name=kind, arguments=json.dumps(args)))
                message = ChatCompletionMessage(role="assistant", content=None, tool_calls=[call])
            return ChatCompletion(id="stub", model="stub", object="chat.completion", created=int(clock.time()),
                                  choices=[Choice(finish_reason="stop", index=0, message=message, logprobs=None)],
                                  usage=CompletionUsage(completion_tokens=10, prompt_tokens=10, total_tokens=20))

    return ScriptedTools(ModelType.STUB)


async def run(script_path: str, out_path: str, llm: bool = False) -> None:
    import oasis
    from oasis import ActionType, DefaultPlatformType, LLMAction, ManualAction

    script = np.load(script_path)
    kinds, picks = script["kinds"], script["picks"]
    steps, n = kinds.shape
    profiles(n, "profiles.json")
    if os.path.exists("oasis.db"):
        os.remove("oasis.db")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    from camel.models import StubModel
    from camel.types import ModelType

    queue_kinds: list[str] = []
    queue_picks: list[float] = []
    known_posts = [1, n]  # posts when the step starts, users
    model = tool_stub(queue_kinds, queue_picks, known_posts) if llm else StubModel(ModelType.STUB)
    graph = await oasis.generate_reddit_agent_graph(profile_path="profiles.json", model=model,
                                                    available_actions=None)
    env = oasis.make(agent_graph=graph, platform=DefaultPlatformType.REDDIT, database_path="oasis.db")
    await env.reset()
    create_cpu, create_wall = time.process_time() - cpu0, time.perf_counter() - wall0

    rec = {"cpu": 0.0, "wall": 0.0}
    original = env.platform.update_rec_table

    async def timed_rec() -> None:
        c, w = time.process_time(), time.perf_counter()
        await original()
        rec["cpu"] += time.process_time() - c
        rec["wall"] += time.perf_counter() - w

    env.platform.update_rec_table = timed_rec  # type: ignore[method-assign]
    agents = [agent for _, agent in env.agent_graph.get_agents()]
    import sqlite3

    def count_posts() -> int:
        with sqlite3.connect("oasis.db") as db:
            return int(db.execute("SELECT count(*) FROM post").fetchone()[0])

    posts = 0
    rows = []
    for step in range(steps):
        rec["cpu"] = rec["wall"] = 0.0
        actions = {}
        for i, agent in enumerate(agents):
            kind = KINDS[kinds[step, i]]
            u = float(picks[step, i])
            if kind in ("like_post", "repost") and posts == 0:
                kind = "do_nothing"
            if kind == "create_post":
                act = ManualAction(ActionType.CREATE_POST, {"content": f"post by user{i} at step {step}"})
            elif kind in ("like_post", "repost"):
                act = ManualAction(ActionType.LIKE_POST if kind == "like_post" else ActionType.REPOST,
                                   {"post_id": 1 + int(u * posts)})
            elif kind == "follow":
                act = ManualAction(ActionType.FOLLOW, {"followee_id": 1 + int(u * n)})
            else:
                act = ManualAction(ActionType.DO_NOTHING, {})
            actions[agent] = [ManualAction(ActionType.REFRESH, {}), act]
        if llm and step > 0:
            queue_kinds[:] = [KINDS[k] for k in kinds[step][::-1]]
            queue_picks[:] = [float(u) for u in picks[step][::-1]]
            known_posts[0] = max(posts, 1)
            actions = {agent: LLMAction() for agent in agents}
        c, w = time.process_time(), time.perf_counter()
        await env.step(actions)
        cpu, wall = time.process_time() - c, time.perf_counter() - w
        posts = count_posts()
        rows.append({"step": step, "cpu_s": cpu, "wall_s": wall, "rec_cpu_s": rec["cpu"], "rec_wall_s": rec["wall"]})
        print(f"oasis n={n} step {step}: {wall:.2f} s wall, {cpu:.2f} s cpu, rec {rec['cpu']:.2f} s cpu",
              file=sys.stderr, flush=True)
    await env.close()
    with open(out_path, "w") as f:
        json.dump({"users": n, "posts": posts, "llm_action": llm,
                   "create_cpu_s": create_cpu, "create_wall_s": create_wall, "steps": rows,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "oasis": oasis.__version__ if hasattr(oasis, "__version__") else "camel-oasis"}, f)


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2], "--llm" in sys.argv[3:]))

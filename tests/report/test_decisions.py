"""Decisions with prompts and answers: from a decisions table, or from events joined to the response cache."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from populace.llm.cache import CACHE_FILE, ResponseCache, request_key
from populace.report.decisions import decisions


def recorded(run: Path, events: pd.DataFrame) -> Path:
    """``run`` holding ``events`` as its trace's only part (replacing what it held)."""
    (run / "events").mkdir(parents=True, exist_ok=True)
    (run / "run.json").write_text("{}")
    table = pa.Table.from_pandas(events, preserve_index=False).cast(pa.schema([
        ("step", pa.int32()), ("agent", pa.int64()), ("action", pa.string()), ("request", pa.string())]))
    pq.write_table(table, run / "events" / f"00000000-{int(events['step'].max()):08d}.parquet")
    return run


def test_decisions_from_the_response_cache_by_short_request_id(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{}")
    cache = ResponseCache(tmp_path / "cache" / CACHE_FILE)
    with_prompt = request_key("complete", "scripted", "Say hi")
    without = request_key("choose", "scripted", "Pick one", options=["a", "b"])
    cache.put(with_prompt, "complete", "scripted", {"text": "hi <there>", "prompt": "Say hi"})
    cache.put(without, "choose", "scripted", {"probabilities": [0.25, 0.75]})
    cache.close()
    events = pd.DataFrame({"step": [0, 1, 1, 2], "agent": [3, 4, 5, 6], "action": ["post", "vote", "vote", "keep"],
                           "request": [with_prompt[:16], without[:16], without[:16], None]})
    table, source = decisions(recorded(tmp_path, events))
    assert source == "response cache"
    assert table[["agent", "prompt", "response"]].to_numpy().tolist() == [
        [3, "Say hi", "hi <there>"], [4, "(the prompt was not kept)", "[0.25, 0.75]"],
        [5, "(the prompt was not kept)", "[0.25, 0.75]"]]
    mine, _ = decisions(tmp_path, agent=5)
    assert mine["agent"].tolist() == [5]
    nobody, source = decisions(tmp_path, agent=99)
    assert nobody.empty and source == "response cache"
    sampled, _ = decisions(recorded(tmp_path, pd.concat([events] * 20, ignore_index=True)), limit=2)
    assert len(sampled) == 2 and set(sampled["agent"]) <= {3, 4, 5}


def test_no_decisions_says_why(tmp_path: Path) -> None:
    none = pd.DataFrame({"step": [0], "agent": [1], "action": ["give"], "request": [None]})
    assert decisions(recorded(tmp_path, none))[1] == "no decision in this run was made by a language model"
    assert decisions(tmp_path, agent=1)[1] == "no decision in this run was made by a language model"
    asked = none.assign(request=["abcdef0123456789"])
    assert decisions(recorded(tmp_path, asked))[1] == "the run has model requests but no prompts or responses were kept"
    mine, source = decisions(tmp_path, agent=1)
    assert mine.empty and source == "response cache"  # the run asked a model; the dashboard says none for agent 1

"""What a game master costs: model calls, tokens and seconds per agent action in the narrative
world's two scenarios, on the embedded model (and Concordia's count of model calls on a market
like ours, where its environment exists).

    .venv/bin/python benchmarks/narrative_cost.py            # both scenarios on the embedded model (~3-6 min)
    .venv/bin/python benchmarks/narrative_cost.py --quick    # a scripted model: calls per action, overhead

Each scenario runs in a fresh process as ``populace run`` does (trace, checkpoints, metrics), with
its own CPU time. An *action* is one ``act`` the game master ruled on; its cost is a player line,
the ruling, and every fourth ruling asked again (the consistency check). The figures that matter
across machines are calls and tokens per action; seconds depend on the CPU and its load, which
the result records. Results go to ``benchmarks/results/narrative_cost.json``.

Concordia: ``benchmarks/.peers/concordia`` (``python -m venv`` + ``pip install gdm-concordia``)
runs ``_concordia_market.py``, a market of the same shape through Concordia's own game master
components with a stub model that counts calls, so the two are compared on calls per action, not
on a model's speed.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import in_fresh_process, results_file, write_results

HERE = Path(__file__).resolve().parent
SCENARIOS = ("village-market", "town-meeting")
CONCORDIA = HERE / ".peers" / "concordia" / "bin" / "python"
SCRIPTED = ("model={backend: scripted, function: 'narrative_cost:rule', retries: 0, repairs: 0}",)


def rule(prompt: str, sampling: Any, schema: Any) -> str:
    """A scripted game master: players say one line; every ruling moves nothing."""
    if schema is None:
        return "I look around the square."
    return json.dumps({"happened": "Nothing much.", "changes": []})


def child(scenario: str, scripted: bool) -> dict[str, Any]:
    """One run of ``scenario``; its steps' counters summed, and the consistency figures."""
    from populace.scenario import load_scenario
    from populace.simulation import Simulation

    sys.path.insert(0, str(HERE))
    with tempfile.TemporaryDirectory() as runs:
        started = time.perf_counter()
        sim = Simulation.from_scenario(load_scenario(scenario, list(SCRIPTED) if scripted else []),
                                       runs_dir=Path(runs))
        sim.run()
        wall = time.perf_counter() - started
        steps = sim.trace.read("steps").to_pandas()
        final = sim.metrics().iloc[-1].to_dict()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    acts = int(final.get("rulings", 0))
    sums = {k: float(steps[k].sum()) for k in ("llm_calls", "llm_tokens_in", "llm_tokens_out", "llm_seconds",
                                                "player_calls", "game_master_calls", "wall_s") if k in steps}
    return {
        "scenario": scenario, "model": "scripted" if scripted else "embedded (SmolLM2-135M)",
        "steps": len(steps), "actions": acts, **sums,
        "calls_per_action": sums["llm_calls"] / acts if acts else None,
        "tokens_in_per_action": sums["llm_tokens_in"] / acts if acts else None,
        "tokens_out_per_action": sums["llm_tokens_out"] / acts if acts else None,
        "model_s_per_action": sums["llm_seconds"] / acts if acts else None,
        "run_wall_s": wall, "cpu_s": cpu.ru_utime + cpu.ru_stime,
        "contradiction_share": final.get("contradiction_share"),
        "divergence_share": final.get("divergence_share"),
        "transfers": final.get("transfers"),
        "votes": {k: v for k, v in final.items() if k.startswith("vote")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a scripted model instead of the embedded one")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.quick)))
        return
    rows = [in_fresh_process([sys.executable, __file__, "--child", name, *(["--quick"] if args.quick else [])],
                             cwd=HERE.parent) for name in SCENARIOS]
    result: dict[str, Any] = {"rows": rows}
    if CONCORDIA.is_file():
        result["concordia"] = in_fresh_process([str(CONCORDIA), str(HERE / "_concordia_market.py")], cwd=HERE.parent)
    else:
        result["concordia"] = "not measured: no environment at benchmarks/.peers/concordia"
    print(f"{'scenario':<16}{'actions':>8}{'calls/act':>10}{'tok in/act':>11}{'tok out/act':>12}"
          f"{'model s/act':>12}{'run s':>8}{'cpu s':>8}")
    for r in rows:
        print(f"{r['scenario']:<16}{r['actions']:>8}{r['calls_per_action'] or 0:>10.2f}"
              f"{r['tokens_in_per_action'] or 0:>11.0f}{r['tokens_out_per_action'] or 0:>12.0f}"
              f"{r['model_s_per_action'] or 0:>12.2f}{r['run_wall_s']:>8.1f}{r['cpu_s']:>8.1f}")
    if isinstance(result["concordia"], dict):
        for c in result["concordia"]["rows"]:
            print(f"concordia {result['concordia']['concordia']} market (stub answers {c['answers']}): "
                  f"{c['actions']} actions, {c['calls_per_action']:.1f} calls, {c['words_in_per_action']:.0f} words "
                  "in per action")
    else:
        print(f"concordia: {result['concordia']}")
    write_results(results_file("narrative_cost", args.quick), result)


if __name__ == "__main__":
    main()

"""Reliability figures: model faults reconciled with the trace, dashboard load on a live run, and
SIGKILL-and-resume of a social run with model-driven minds.

    python benchmarks/reliability.py                    # all three parts, full size
    python benchmarks/reliability.py --quick            # small sizes
    python benchmarks/reliability.py --faults --kill    # some parts only

Writes benchmarks/results/reliability.json (reliability-quick.json with --quick) and prints tables.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from _results import write_results

from populace import analysis
from populace.reliability.dashboard_load import dashboard_load
from populace.reliability.kill import kill_and_resume
from populace.reliability.model_faults import CAUSES, fault_scenario, run_with_faults

RESULTS = Path(__file__).parent / "results"
FAULT_RATES = {"drop": 0.06, "delay": 0.04, "http_429": 0.06, "http_500": 0.06, "truncated_json": 0.06,
               "invalid_action": 0.06, "endless_stream": 0.04}


def model_faults(quick: bool) -> dict[str, Any]:
    """Generative agents on SmolLM2 (llama.cpp server, 1 thread) through the fault proxy."""
    from populace.llm.serve import LlamaServer

    steps, agents = (3, 8) if quick else (8, 8)
    with LlamaServer(threads=1) as server, tempfile.TemporaryDirectory() as tmp:
        report = run_with_faults(server.base_url, server.alias, Path(tmp), rates=FAULT_RATES, steps=steps,
                                 agents=agents, timeout=10.0, seed=11)
    out = report.as_dict()
    out.update(rates=FAULT_RATES, model="SmolLM2-135M-Instruct Q4_1, llama.cpp server, 1 thread",
               client={"retries": 0, "repairs": 0, "timeout_s": 10.0, "proxy_delay_s": 12.0, "concurrency": 1})
    return out


def kill_scenario(steps: int) -> dict[str, Any]:
    """The misinformation world with generative (5 users) and archetype (everyone else) minds, scripted model."""
    base = fault_scenario({}, steps, agents=5)
    generative = {**base["minds"][0], "max_tokens": 32}
    archetype = {"select": "all", "type": "archetype",
                 "prompt": "Your belief in the rumour: {obs.belief}. Your stance: {obs.stance}. Options: {options}.",
                 "bins": {"obs.belief": [0.25, 0.5, 0.75], "obs.stance": [-0.5, 0.0, 0.5]},
                 "options": {"post": {"action": "create_post", "args": {"content": "what a day for amazon"}},
                             "pause": {"action": "do_nothing"}, "ignore": None}}
    model = {"backend": "scripted", "responses": json.dumps({"action": "like_post", "args": {"post_id": 0}}),
             "probabilities": {"post": 1, "pause": 2, "ignore": 3}, "retries": 0}
    return {**base, "name": "kill-resume", "model": model, "minds": [generative, archetype],
            "world": {**base["world"], "actions": ["create_post", "like_post", "repost", "do_nothing"]},
            "schedule": {"activity": "diurnal"}}


def kill(quick: bool) -> dict[str, Any]:
    """SIGKILL a social run with generative + archetype minds 20 times (5 with --quick), resuming each time."""
    kills, steps = (5, 150) if quick else (20, 400)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kill-resume.yaml"
        path.write_text(yaml.safe_dump(kill_scenario(steps)), encoding="utf-8")
        report = kill_and_resume(str(path), ["trace.checkpoint_every=3", "trace.flush_every=1"], Path(tmp) / "runs",
                                 kills=kills, seed=5)
        (reference,) = (Path(tmp) / "runs" / "reference").iterdir()
        hits_uninterrupted = float(analysis.steps(reference)["llm_cache_hits"].sum())
    out = report.as_dict()
    out["cache_hits_uninterrupted"] = hits_uninterrupted
    out["scenario"] = f"misinformation world, 111 users: 5 generative + 106 archetype, scripted model, {steps} steps"
    return out


def load(quick: bool) -> dict[str, Any]:
    """50 readers polling the dashboard of a live opinion run (1M agents), with no-reader phases around."""
    seconds = 10.0 if quick else 60.0
    with tempfile.TemporaryDirectory() as tmp:
        report = dashboard_load(Path(tmp) / "runs", readers=50, seconds=seconds)
    out = report.as_dict()
    out["run"] = ("populace run opinion --set population.size=1000000 --set trace.flush_every=2 "
                  "--set trace.events=rejected")
    return out


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows for ``populace bench``: one per fault kind, one for load, one for kill and resume."""
    rows: list[dict[str, Any]] = []
    f = results.get("model_faults")
    if f:
        for fault, cause in CAUSES.items():
            rows.append({"part": "model faults", "fault": fault, "injected": f["injected"][fault], "cause": cause,
                         "lost": f["lost"][cause]})
    ld = results.get("load")
    if ld:
        worst = max(q["p99"] for q in ld["latency_ms"].values())
        rows.append({"part": "dashboard load", "readers": ld["readers"], "errors": ld["errors"], "worst_p99_ms": worst,
                     "step_wall_change": ld["degradation_wall"], "step_cpu_change": ld["degradation_cpu"]})
    k = results.get("kill")
    if k:
        rows.append({"part": "kill and resume", "kills": k["kills_landed"], "identical": k["identical"],
                     "lost": k["lost"], "duplicated": k["duplicated"], "model_calls": k["model_calls_with_resumes"],
                     "model_calls_uninterrupted": k["model_calls_uninterrupted"]})
    return rows


def print_tables(results: dict[str, Any]) -> None:
    if "model_faults" in results:
        f = results["model_faults"]
        print(f"\nmodel faults: {f['requests']} requests, {f['steps']} steps, completed={f['completed']}, "
              f"exact={f['exact']}, {f['seconds']:.0f} s")
        print(f"{'fault':<16}{'injected':>9}  {'trace cause':<18}{'recorded':>9}{'lost':>6}")
        for fault, cause in CAUSES.items():
            print(f"{fault:<16}{f['injected'][fault]:>9}  {cause:<18}{f['recorded'].get(cause, 0):>9}"
                  f"{f['lost'][cause]:>6}")
        print(f"forwarded {f['forwarded']}; actions the world rejected {f['rejected']}; "
              f"unexplained failures {f['other_failures']}")
    if "load" in results:
        ld = results["load"]
        print(f"\ndashboard load: {ld['readers']} readers x {ld['seconds']:.0f} s, {ld['requests']} requests, "
              f"{ld['errors']} errors")
        print(f"{'endpoint':<16}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for endpoint, q in ld["latency_ms"].items():
            print(f"{endpoint:<16}{q['p50']:>9.0f}{q['p95']:>9.0f}{q['p99']:>9.0f}{q['max']:>9.0f}")
        print(f"{'phase':<10}{'readers':>8}{'steps':>7}{'wall s/step':>13}{'cpu s/step':>12}")
        for p in ld["phases"]:
            print(f"{p['name']:<10}{p['readers']:>8}{p['steps']:>7}{p['wall_s_per_step']:>13.4f}"
                  f"{p['cpu_s_per_step']:>12.4f}")
        print(f"step time with readers: wall {ld['degradation_wall']:+.1%} (baselines differ by "
              f"{ld['noise_wall']:.1%}), cpu {ld['degradation_cpu']:+.1%} (baselines differ by {ld['noise_cpu']:.1%})")
    if "kill" in results:
        k = results["kill"]
        print(f"\nkill and resume: {k['kills_landed']}/{k['kills']} kills landed at steps {k['kill_steps']}")
        print(f"events {k['events_after_resumes']} vs {k['events_uninterrupted']} uninterrupted; identical="
              f"{k['identical']}, lost={k['lost']}, duplicated={k['duplicated']}")
        print(f"model calls {k['model_calls_with_resumes']:.0f} with resumes vs {k['model_calls_uninterrupted']:.0f} "
              f"without; cache hits {k['cache_hits_with_resumes']:.0f} with resumes vs "
              f"{k['cache_hits_uninterrupted']:.0f} without; {k['seconds']:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--faults", action="store_true", help="model faults through the proxy")
    parser.add_argument("--load", action="store_true", help="dashboard readers on a live run")
    parser.add_argument("--kill", action="store_true", help="SIGKILL and resume")
    parser.add_argument("--show", action="store_true", help="only print the recorded results")
    args = parser.parse_args()
    chosen = [name for name in ("faults", "load", "kill") if getattr(args, name)] or ["faults", "load", "kill"]
    out = RESULTS / ("reliability-quick.json" if args.quick else "reliability.json")
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    parts = {"faults": ("model_faults", model_faults), "load": ("load", load), "kill": ("kill", kill)}
    for name in [] if args.show else chosen:
        key, part = parts[name]
        started = time.monotonic()
        print(f"{name} ...", file=sys.stderr, flush=True)
        results[key] = part(args.quick)
        print(f"{name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        results["machine"] = {"python": platform.python_version(), "cpus": __import__("os").cpu_count()}
        out.parent.mkdir(parents=True, exist_ok=True)
        results["rows"] = summary_rows(results)
        write_results(out, results)  # after each part: partial beats nothing
    if args.show and results:
        results["rows"] = summary_rows(results)
        write_results(out, results)
    print_tables(results)
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()

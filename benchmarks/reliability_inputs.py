"""Bad input and untrusted text: how many malformed files load or fail cleanly, and what hostile text costs.

    python benchmarks/reliability_inputs.py [--cases 200]

1. Census: ``--cases`` random malformed population CSVs, population Parquets, follow lists, follow
   files and post files, each loaded through ``Simulation.from_scenario(load_scenario(...))``; every
   outcome is "ok", "clean" (a one-line ``PopulaceError``) or "traceback" (anything else; must be 0).
2. Memory: the peak Python heap (tracemalloc) of a 4-step social run with K seeded posts of 100k
   characters, for several K: it grows with the text stored, not with agents or steps.
3. Prompts: the longest prompt sent while agents read 100k-character posts and personas.
4. Writing a run's scenario with 40 injected posts of 100k characters (libyaml vs pure Python).

Writes ``benchmarks/results/reliability_inputs.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from _results import write_results

from populace import Simulation, load_scenario
from populace.errors import PopulaceError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
import test_untrusted_text as hostile  # noqa: E402  (the hostile texts, scenario and scripted model)

USERS = "name,bio,stance\n" + "".join(f"u{i},bio {i},0.{i}\n" for i in range(6))
CELLS = ["", "x", "0", "1", "-1", "0.5", "1e400", "nan", '"', "[1, 2]", "[1,", "{1}", "['a']", "[[1]]", "[None]",
         "é", "\x00", "9" * 25, "[True]", "<b>", "'); DROP TABLE users;--"]


def social(population: dict[str, Any], **params: Any) -> dict[str, Any]:
    params.setdefault("follows", {"kind": "none"})
    return {"name": "census", "seed": 1, "steps": 1, "population": population, "world": {"type": "social",
            "params": params}, "minds": [{"select": "all", "type": "rules", "policy": "browse"}]}


def attempt(spec: dict[str, Any], runs: Path) -> tuple[str, str]:
    """The outcome of loading and stepping a scenario, and its error message if any."""
    try:
        Simulation.from_scenario(load_scenario(spec), runs_dir=runs).run()
    except PopulaceError as exc:
        return ("clean" if "\n" not in str(exc) else "traceback"), str(exc)
    except Exception as exc:
        return "traceback", f"{type(exc).__name__}: {exc}"
    return "ok", ""


def table(rng: np.random.Generator, header: list[str], rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for _ in range(rows):
        width = len(header) if rng.random() < 0.8 else int(rng.integers(1, len(header) + 2))  # some rows ragged
        writer.writerow([CELLS[rng.integers(len(CELLS))] for _ in range(width)])
    return out.getvalue().encode("utf-8", "surrogatepass")


def case(family: str, rng: np.random.Generator, tmp: Path, i: int) -> dict[str, Any]:
    users = tmp / "users.csv"
    users.write_text(USERS)
    path = tmp / f"{family}-{i}.csv"
    if family == "population_csv":
        data = rng.bytes(int(rng.integers(0, 120))) if rng.random() < 0.3 else table(rng, ["name", "bio", "stance"], 4)
        path.write_bytes(data)
        return social({"file": str(path)})
    if family == "population_parquet":
        path = path.with_suffix(".parquet")
        if rng.random() < 0.3:
            path.write_bytes(b"PAR1" + rng.bytes(40))
        else:
            kinds = {"stance": ["x", None], "bio": [b"\xff", b"ok"], "name": [1, 2], "age": [[1], [2, 3]]}
            chosen = rng.permutation(list(kinds))[: int(rng.integers(1, 5))]
            pq.write_table(pa.table({k: kinds[k] for k in chosen}), path)
        return social({"file": str(path)})
    if family == "follow_column":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["name", "following"])
        writer.writerows([f"u{j}", CELLS[rng.integers(len(CELLS))]] for j in range(6))
        path.write_text(out.getvalue())
        return social({"file": str(path)}, follows={"kind": "column", "column": "following"})
    if family == "follow_file":
        path.write_bytes(table(rng, ["follower", "followee"], 4))
        return social({"file": str(users)}, follows={"kind": "file", "path": str(path)})
    path.write_bytes(table(rng, ["author", "content", "step", "stance"], 4))
    return social({"file": str(users)}, posts_file=str(path))


FAMILIES = ["population_csv", "population_parquet", "follow_column", "follow_file", "posts_file"]


def census(cases: int, seed: int = 0) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    """Outcome counts per family, and a few of the error messages (scratch paths cut to the file name)."""
    rng = np.random.default_rng(seed)
    counts = {f: {"ok": 0, "clean": 0, "traceback": 0} for f in FAMILIES}
    examples: dict[str, list[str]] = {f: [] for f in FAMILIES}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        for family in FAMILIES:
            for i in range(cases):
                kind, message = attempt(case(family, rng, tmp, i), tmp / "runs")
                counts[family][kind] += 1
                message = message.replace(str(tmp) + "/", "")
                if message and len(examples[family]) < 4 and message not in examples[family]:
                    examples[family].append(message)
    return counts, examples


def memory(posts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        spec = hostile.scenario(tmp, steps=4)
        rows = "".join(f"{i % 10},{i} {'B' * 100_000},{i % 4}\n" for i in range(posts))
        (tmp / "huge.csv").write_text("author,content,step\n" + rows)
        spec["world"]["params"]["posts_file"] = str(tmp / "huge.csv")
        loaded = load_scenario(spec)
        hostile.PROMPTS.clear()
        tracemalloc.start()
        started = time.perf_counter()
        Simulation.from_scenario(loaded, runs_dir=tmp / "runs").run()
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {"posts": posts, "text_mib": posts * 100_000 / 2**20, "peak_heap_mib": peak / 2**20,
            "seconds": seconds, "max_prompt_chars": max(len(p) for p in hostile.PROMPTS)}


def scenario_dump() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        spec = hostile.scenario(Path(scratch))
        spec["interventions"] = [{"at": 0, "call": "inject_post", "args": {"author": 0, "content": "D" * 100_000}}
                                 for _ in range(40)]
        data = json.loads(load_scenario(spec).model_dump_json())
    timings = {}
    for name, dumper in (("libyaml", yaml.CSafeDumper), ("pure_python", yaml.SafeDumper)):
        started = time.perf_counter()
        yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True)
        timings[f"{name}_s"] = time.perf_counter() - started
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200, help="malformed files per family")
    parser.add_argument("--quick", action="store_true", help="20 files per family, two memory sizes")
    args = parser.parse_args()
    if args.quick:
        args.cases = 20
    counts, examples = census(args.cases)
    mem = [memory(k) for k in ((10, 40) if args.quick else (10, 40, 80, 160))]
    dump = scenario_dump()
    result = {"cases_per_family": args.cases, "census": counts, "messages": examples, "memory": mem,
              "scenario_dump_40x100k": dump, "prompt_cap_chars": hostile.PROMPT_CAP}
    name = "reliability_inputs-quick.json" if args.quick else "reliability_inputs.json"
    out = ROOT / "benchmarks" / "results" / name
    write_results(out, result)
    print(f"{'family':<20}{'ok':>6}{'clean':>7}{'traceback':>11}")
    for family, c in counts.items():
        print(f"{family:<20}{c['ok']:>6}{c['clean']:>7}{c['traceback']:>11}")
    print(f"\n{'100k posts':>10}{'text MiB':>10}{'peak heap MiB':>15}{'run s':>7}{'max prompt':>12}")
    for m in mem:
        print(f"{m['posts']:>10}{m['text_mib']:>10.1f}{m['peak_heap_mib']:>15.1f}{m['seconds']:>7.2f}"
              f"{m['max_prompt_chars']:>12}")
    print(f"\nscenario with 40 x 100k posts to YAML: libyaml {dump['libyaml_s']:.3f} s, "
          f"pure Python {dump['pure_python_s']:.2f} s")


if __name__ == "__main__":
    main()

"""Trace identity before and after a refactor (GitHub issue 15): every shipped scenario, run small
by two source trees, must record the same events, metrics and step counters, row for row.

Each tree is a checkout of the repository (``git worktree add /tmp/before 17ae9c4`` makes one).
For each tree, every built-in scenario that the tree's own registry lists
(``populace.scenario.builtin_scenarios()``, what ``populace list`` shows; the tree's ``scenarios/*.yaml``
if that import fails) runs once through the tree's own command line,
``python -m populace run NAME --set ... --runs-dir DIR -q --no-report``, in a fresh process with
``PYTHONPATH=<tree>/src`` and the repository's venv python, so each tree's code and scenario files
are the ones that run (the script checks that ``populace`` is imported from ``<tree>/src`` and that
the run's scenario came from the tree). Each tree's ``src/`` and ``scenarios/`` are first copied to
``benchmarks/.scratch/trace_identity/tree-LABEL`` and run from there (``--no-snapshot``: in place),
so a working tree that others edit meanwhile is measured in one state, the one at the start.
The runs are made small and offline:

* ``steps=N`` (``--steps``, default 3; a scenario shorter than that keeps its own length);
* the scenario's own fixed seed (``--seed`` replaces it in every scenario);
* the scripted model backend: ``model.backend=scripted`` wherever a scenario's ``model:`` (or a
  mind's own ``model:``) is not scripted (a scenario without ``model:`` runs on the embedded model's
  default, so it gets the override too; rules-only scenarios never call it), and the fields only
  another backend uses set to null (``model.threads=null``...); without a function or table the
  scripted model answers the smallest value valid for the request's schema, deterministically.
  Encoders (``minilm``) stay as shipped: they run offline and are deterministic;
* populations as shipped (at 3 steps the largest, covid's 50,000 agents, takes about a second);
* ``OMP_NUM_THREADS`` and friends = 1 (no thread-count-dependent float sums, and kind to shared
  cores); every ``POPULACE_*`` variable removed (no foreign scenarios folder or runs folder).

Digests. A run's ``events``, ``metrics`` and ``steps`` tables are read part by part in part-name
order (step order), concatenated as ``TraceStore.read`` does, and hashed with SHA-256: the column
names and types, then every row in stored order as JSON (floats as their shortest round-trip repr,
timestamps ISO). What legitimately varies from run to run is left out:

* ``steps.wall_s`` and ``steps.llm_seconds`` (and any ``steps`` column ending in ``_seconds``):
  wall-clock durations of the step and of its model calls;
* the run directory's name and ``run.json`` (run id with its wall-clock stamp and random suffix,
  ``created``/``updated`` wall-clock timestamps, ``pid``, ``host``, ``base_dir`` which names the
  tree): not hashed at all; its ``health`` counters are kept in the JSON for reading;
* the part files' boundaries (rows are hashed across parts; the part names are kept in the JSON),
  ``checkpoints/*.pkl`` and the model response cache (``cache/responses.sqlite``): not hashed.

Nothing in the events table is excluded: ``time`` is simulated time and ``request`` is the
content address of the model request (a SHA-256 of prompt, sampling and schema), both
deterministic. ``--control`` runs each tree a second time and compares it with its first run: any
difference there is nondeterminism, not the refactor.

Run:
``.venv/bin/python benchmarks/trace_identity.py --before /tmp/before [--after .] [--control]``
(``--control`` alone, without ``--before``: only the after tree, twice). ``--scenarios a,b`` runs a
subset and writes the ``-quick`` file. Writes ``benchmarks/results/trace_identity.json``, prints a
table, and exits 1 if any scenario differs, fails in either tree, or (with ``--control``) differs
between two runs of the same tree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from _results import results_file, write_results

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SCRATCH = HERE / ".scratch" / "trace_identity"
TABLES = ("events", "metrics", "steps")
#: columns left out of a table's digest: wall-clock durations (any steps column ending in _seconds too)
EXCLUDED = {"steps": ("wall_s", "llm_seconds")}
#: model fields that only a backend other than scripted uses (populace.scenario.BACKEND_FIELDS)
OTHER_BACKEND_FIELDS = ("threads", "context_size", "base_url", "servers", "api_key_env", "endpoint", "schema_mode")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")

LIST_SCRIPT = """
import json, sys
from pathlib import Path
import populace
found = {"module": populace.__file__}
try:
    from populace.scenario import builtin_scenarios
    found["scenarios"] = {name: str(path) for name, path in builtin_scenarios().items()}
except Exception as exc:
    found["registry_error"] = repr(exc)
print(json.dumps(found))
"""


# -- running ------------------------------------------------------------------------------------
def environment(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPULACE_")}
    env["PYTHONPATH"] = str(tree / "src")
    env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    return env


def list_scenarios(tree: Path, python: str) -> dict[str, Path]:
    """The tree's built-in scenarios by name, from its own registry, importing its own code."""
    done = subprocess.run([python, "-c", LIST_SCRIPT], capture_output=True, text=True, env=environment(tree),
                          cwd=SCRATCH)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: cannot import populace from {tree / 'src'}:\n{done.stderr.strip()[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    module = Path(found["module"]).resolve()
    if not module.is_relative_to((tree / "src").resolve()):
        raise SystemExit(f"{tree}: populace was imported from {module}, not from {tree / 'src'}")
    if "scenarios" in found:
        return {name: Path(path) for name, path in found["scenarios"].items()}
    print(f"{tree}: registry not importable ({found['registry_error']}); using {tree / 'scenarios'}/*.yaml",
          file=sys.stderr)
    return {p.stem: p for p in sorted((tree / "scenarios").glob("*.yaml"))}


def model_overrides(spec: Any, path: str) -> list[str]:
    """Overrides putting the model spec at ``path`` (a mapping, or absent) on the scripted backend."""
    if not isinstance(spec, dict):
        return [f"{path}.backend=scripted"] if path == "model" else []
    out = []
    inherited = None if path == "model" else "scripted"  # the top level's, once scripted
    if spec.get("backend", "embedded" if path == "model" else inherited) not in (inherited, "scripted"):
        out.append(f"{path}.backend=scripted")
    return out + [f"{path}.{key}=null" for key in OTHER_BACKEND_FIELDS if spec.get(key) is not None]


def nested_models(value: Any, path: str) -> list[str]:
    """Overrides for every ``model:`` mapping below ``value`` (minds, their fallbacks, players)."""
    out: list[str] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f"{path}.{key}"
        if key == "model" and isinstance(item, dict):
            out += model_overrides(item, where)
        else:
            out += nested_models(item, where)
    return out


def small_overrides(file: Path, steps: int, seed: int | None) -> tuple[list[str], dict[str, Any]]:
    """The ``--set`` overrides that make the scenario in ``file`` small, seeded and offline."""
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    shipped_steps = int(data.get("steps") or steps)
    overrides = [f"steps={min(steps, shipped_steps)}"]
    if seed is not None:
        overrides.append(f"seed={seed}")
    overrides += model_overrides(data.get("model"), "model") + nested_models(data.get("minds") or [], "minds")
    return overrides, {"run_steps": min(steps, shipped_steps), "shipped_steps": shipped_steps,
                       "seed": seed if seed is not None else data.get("seed")}


def run_one(tree: Path, name: str, overrides: list[str], runs_dir: Path, python: str) -> dict[str, Any]:
    """Run one scenario in ``tree``'s own code; the digests of its run, or its error."""
    if runs_dir.exists():
        shutil.rmtree(runs_dir)
    runs_dir.mkdir(parents=True)
    argv = [python, "-m", "populace", "run", name, *(a for o in overrides for a in ("--set", o)),
            "--runs-dir", str(runs_dir), "-q", "--no-report"]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=environment(tree), cwd=SCRATCH)
    seconds = round(time.perf_counter() - start, 2)
    runs = [p.parent for p in runs_dir.glob("*/run.json")]
    if done.returncode != 0 or len(runs) != 1:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        return {"ok": False, "seconds": seconds, "error": f"exit {done.returncode}: {' | '.join(tail)}"}
    run = runs[0]
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = {"ok": True, "seconds": seconds, "status": manifest.get("status"),
                              "steps_done": manifest.get("steps_done"), "health": manifest.get("health"),
                              "scenario_from": manifest.get("base_dir")}
    if manifest.get("status") != "completed":
        return {**result, "ok": False, "error": f"run status {manifest.get('status')}: {manifest.get('error')}"}
    for table in TABLES:
        result[table] = digest(run, table)
    return result


# -- digests ------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def excluded(table: str, column: str) -> bool:
    return column in EXCLUDED.get(table, ()) or (table == "steps" and column.endswith("_seconds"))


def digest(run: Path, table: str) -> dict[str, Any]:
    """SHA-256 over ``table``'s kept columns (names, types) and rows in stored order; the rows'
    JSON lines are kept (under ``_lines``, not written) to show a first difference."""
    parts = sorted((run / table).glob("*.parquet"))
    tables = [pq.read_table(p) for p in parts]
    data = pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
    dropped = [c for c in data.column_names if excluded(table, c)]
    data = data.drop_columns(dropped)
    schema = json.dumps([[f.name, str(f.type)] for f in data.schema])
    lines = [json.dumps(list(row.values()), default=_plain, ensure_ascii=False, separators=(",", ":"))
             for row in data.to_pylist()]
    sha = hashlib.sha256(schema.encode())
    for line in lines:
        sha.update(b"\n" + line.encode("utf-8"))
    return {"rows": data.num_rows, "digest": sha.hexdigest(), "excluded": dropped,
            "parts": [p.name for p in parts], "_schema": schema, "_lines": lines}


def differences(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
    """The tables whose digests differ between runs ``a`` and ``b``, and the first differing row."""
    tables = [t for t in TABLES if a[t]["digest"] != b[t]["digest"]]
    first = None
    for table in tables:
        if a[table]["_schema"] != b[table]["_schema"]:
            first = {"table": table, "row": "schema", "a": a[table]["_schema"], "b": b[table]["_schema"]}
            break
        la, lb = a[table]["_lines"], b[table]["_lines"]
        index = next((i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb)))
        first = {"table": table, "row": index, "rows": [len(la), len(lb)],
                 "a": la[index] if index < len(la) else None, "b": lb[index] if index < len(lb) else None}
        break
    return tables, first


def verdict(a: dict[str, Any] | None, b: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    if a is None or b is None:
        return "missing in " + ("before" if a is None else "after"), None
    if not a["ok"] or not b["ok"]:
        which = "both" if not a["ok"] and not b["ok"] else "before" if not a["ok"] else "after"
        return f"FAILED ({which})", None
    tables, first = differences(a, b)
    return ("same" if not tables else f"DIFFERENT ({', '.join(tables)})"), first


# -- the comparison -----------------------------------------------------------------------------
def snapshot(tree: Path, target: Path) -> Path:
    """A copy of ``tree``'s ``src/`` and ``scenarios/`` (all a run reads from the tree) under ``target``."""
    if target.exists():
        shutil.rmtree(target)
    for part in ("src", "scenarios"):
        if (tree / part).is_dir():
            shutil.copytree(tree / part, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def git_state(tree: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    dirty = git("status", "--porcelain", "--", "src", "scenarios").splitlines()
    return {"path": str(tree), "commit": git("rev-parse", "HEAD"), "subject": git("log", "-1", "--format=%s")[:100],
            "uncommitted_in_src_or_scenarios": dirty}


def run_tree(label: str, tree: Path, names: list[str], files: dict[str, Path], args: argparse.Namespace,
             python: str, attempt: int) -> dict[str, dict[str, Any]]:
    results = {}
    for name in names:
        if name not in files:
            continue
        overrides, info = small_overrides(files[name], args.steps, args.seed)
        found = run_one(tree, name, overrides, SCRATCH / f"{label}-{attempt}" / name, python)
        source = found.get("scenario_from")
        if found["ok"] and source and not Path(source).resolve().is_relative_to(tree.resolve()):
            found = {**found, "ok": False, "error": f"the scenario came from {source}, not from {tree}"}
        results[name] = {**found, "overrides": overrides, **info}
        state = "ok" if found["ok"] else found["error"]
        print(f"  {label}{'' if attempt == 1 else ' (again)'} {name}: {found['seconds']:.1f} s {state}",
              file=sys.stderr, flush=True)
    return results


def public(run: dict[str, Any] | None, brief: bool = False) -> dict[str, Any] | None:
    """A run's result for the JSON: without the rows kept for showing differences; ``brief`` (a
    control's second run): only whether it ran, its time and its digests."""
    if run is None:
        return None
    kept = {k: v for k, v in run.items() if not brief or k in ("ok", "seconds", "error", *TABLES)}
    for table in TABLES:
        if table in kept:
            kept[table] = {k: v for k, v in kept[table].items()
                           if not k.startswith("_") and not (brief and k in ("parts", "excluded"))}
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="source tree before the change (a checkout of the repository)")
    parser.add_argument("--after", type=Path, default=REPO, help="source tree after the change (default: this one)")
    parser.add_argument("--steps", type=int, default=3, help="steps per run (default 3)")
    parser.add_argument("--seed", type=int, help="seed for every scenario (default: each scenario's own)")
    parser.add_argument("--control", action="store_true", help="run each tree twice: its two runs must agree")
    parser.add_argument("--scenarios", help="comma-separated subset (writes the -quick results file)")
    parser.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"),
                        help="python that runs both trees (default: this repository's venv)")
    parser.add_argument("--no-snapshot", dest="snapshot", action="store_false",
                        help="run the trees in place instead of from a copy of their src/ and scenarios/ taken "
                             "at the start (a tree being edited meanwhile would mix its states)")
    parser.add_argument("--keep", action="store_true", help=f"keep the run directories under {SCRATCH}")
    args = parser.parse_args()
    if args.before is None and not args.control:
        parser.error("give --before PATH, or --control to check one tree against itself")
    if not Path(args.python).is_file():
        args.python = sys.executable
    trees = {"after": args.after.resolve()}
    if args.before is not None:
        trees = {"before": args.before.resolve(), **trees}
    for tree in trees.values():
        if not (tree / "src" / "populace").is_dir():
            parser.error(f"{tree} has no src/populace: not a checkout of this repository")
    SCRATCH.mkdir(parents=True, exist_ok=True)
    given = {label: {**git_state(tree), "ran_from": str(tree)} for label, tree in trees.items()}  # as at the start
    if args.snapshot:  # a working tree edited while this runs would mix its states
        trees = {label: snapshot(tree, SCRATCH / f"tree-{label}") for label, tree in trees.items()}
        for label, tree in trees.items():
            given[label]["ran_from"] = str(tree)

    started = time.perf_counter()
    files = {label: list_scenarios(tree, args.python) for label, tree in trees.items()}
    names = sorted(set().union(*files.values()))
    if args.scenarios:
        wanted = [n.strip() for n in args.scenarios.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error(f"unknown scenarios: {', '.join(unknown)}")
        names = sorted(wanted)
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for label, tree in trees.items():
        print(f"{label}: {tree}", file=sys.stderr)
        runs[label] = run_tree(label, tree, names, files[label], args, args.python, 1)
        if args.control:
            runs[f"{label}_again"] = run_tree(label, tree, names, files[label], args, args.python, 2)

    rows, failed = [], False
    for name in names:
        row: dict[str, Any] = {"scenario": name}
        for label in trees:
            row[label] = runs[label].get(name)
        if "before" in trees:
            row["result"], row["first_difference"] = verdict(row["before"], row["after"])
            failed |= row["result"] != "same"
        if args.control:
            for label in trees:
                again = runs[f"{label}_again"].get(name)
                result, first = verdict(row[label], again)
                row[f"control_{label}"] = result.replace("DIFFERENT", "NONDETERMINISTIC")
                if first is not None:
                    row[f"control_{label}_first_difference"] = first
                failed |= result != "same"
                row[f"{label}_again"] = again
        rows.append(row)
    seconds = round(time.perf_counter() - started, 1)

    print_table(rows, list(trees), args.control)
    for row in rows:
        for key in ("first_difference", "control_before_first_difference", "control_after_first_difference"):
            if row.get(key):
                first = row[key]
                print(f"{row['scenario']}: {key.replace('_', ' ')}: {first['table']} row {first['row']}:\n"
                      f"  a: {str(first['a'])[:400]}\n  b: {str(first['b'])[:400]}")
        for label in [*trees, *(f"{t}_again" for t in trees)]:
            run = row.get(label)
            if run is not None and not run["ok"]:
                print(f"{row['scenario']}: {label.replace('_', ' ')} failed: {run['error']}")
    print(f"{len(rows)} scenarios, {seconds} s in all; {'all same' if not failed else 'NOT all same'}")

    result = {
        "issue": 15,
        "trees": given,
        "steps": args.steps, "seed": args.seed if args.seed is not None else "each scenario's own",
        "control": args.control, "seconds": seconds, "all_same": not failed,
        "excluded": {"steps": [*EXCLUDED["steps"], "*_seconds"],
                     "not hashed": ["run.json (id, created, updated, pid, host, base_dir)", "run directory name",
                                    "part boundaries", "checkpoints", "model response cache"]},
        "scenarios": [{k: (public(v, k.endswith("_again")) if k in trees or k.endswith("_again") else v)
                       for k, v in row.items()} for row in rows],
    }
    out = results_file("trace_identity", quick=bool(args.scenarios) or args.before is None)
    write_results(out, result)
    print(f"wrote {out}")
    if not args.keep:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    sys.exit(1 if failed else 0)


def print_table(rows: list[dict[str, Any]], labels: list[str], control: bool) -> None:
    def short(run: dict[str, Any] | None, table: str) -> str:
        if run is None:
            return "-"
        return run[table]["digest"][:12] if run["ok"] else "failed"

    def count(row: dict[str, Any], table: str) -> str:
        run = row.get("after") if row.get("after", {}) and row["after"]["ok"] else row.get("before")
        return str(run[table]["rows"]) if run and run["ok"] else "-"

    header = ["scenario", "events", "metrics"]
    for label in labels:
        header += [f"events {label}", f"metrics {label}"]
    if "before" in labels:
        header.append("result")
    if control:
        header += [f"control {label}" for label in labels]
    table = [header]
    for row in rows:
        line = [row["scenario"], count(row, "events"), count(row, "metrics")]
        for label in labels:
            line += [short(row[label], "events"), short(row[label], "metrics")]
        if "before" in labels:
            line.append(row["result"])
        if control:
            line += [row[f"control_{label}"] for label in labels]
        table.append(line)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, line in enumerate(table):
        print("  ".join(cell.rjust(w) if j in (1, 2) else cell.ljust(w)
                        for j, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()

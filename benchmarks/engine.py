"""Engine benchmark: the Boltzmann wealth model through populace, a hand-written NumPy loop and Mesa.

    .venv/bin/python benchmarks/engine.py            # 10k, 100k and 1M agents (a few minutes)
    .venv/bin/python benchmarks/engine.py --quick    # 10k and 100k agents, fewer steps

Every measurement runs in a fresh subprocess, so its peak memory is its own: the peak resident
set size (``ru_maxrss``) minus the resident set size after imports, before the model is built.
Each engine builds its model, runs warm-up steps, then times a few steps (wall clock and process
CPU time, all threads). Mesa runs in its own virtual environment (``benchmarks/.peers/mesa``,
created on first use), never in populace's. Results go to ``benchmarks/results/engine.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _results import in_fresh_process, write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = HERE / ".peers"
MESA_VENV = PEERS / "mesa"
MESA_REQUIREMENT = "mesa>=3.0,<4"
SCRATCH = HERE / ".scratch"
RESULTS = HERE / "results" / "engine.json"
SCENARIO = ROOT / "scenarios" / "wealth.yaml"
SEED = 7
MESA_LIMIT_S = 120.0
HAND_MIN_CPU_S = 1.0

JOBS = ["nurse", "teacher", "engineer", "clerk"]
#: Personas for the creation benchmark: several attributes, one conditional on another.
PERSONAS: dict[str, Any] = {
    "age": {"dist": "normal", "mean": 41, "std": 14, "min": 18, "max": 90, "integer": True},
    "gender": {"dist": "categorical", "values": ["f", "m", "x"], "p": [0.49, 0.49, 0.02]},
    "occupation": {
        "dist": "conditional", "given": "gender",
        "table": {
            "f": {"dist": "categorical", "values": JOBS, "p": [0.3, 0.3, 0.1, 0.3]},
            "m": {"dist": "categorical", "values": JOBS, "p": [0.1, 0.2, 0.4, 0.3]},
        },
        "default": {"dist": "categorical", "values": JOBS},
    },
    "income": {"dist": "lognormal", "mean": 10.4, "sigma": 0.6},
    "leaning": {"dist": "uniform", "low": -1.0, "high": 1.0},
    "openness": {"dist": "normal", "mean": 0.5, "std": 0.15, "min": 0.0, "max": 1.0},
    "household": {"dist": "integer", "low": 1, "high": 6},
    "interest": {"dist": "categorical", "values": ["sport", "music", "politics", "tech", "food", "travel"]},
}


# -- measuring -------------------------------------------------------------------------------
def _status_mb(field: str) -> float | None:
    """A memory figure from ``/proc/self/status`` (Linux), in MiB."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Current resident set size."""
    now = _status_mb("VmRSS")
    return now if now is not None else peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process image (``VmHWM``; ``ru_maxrss`` where there is no /proc,
    which on Linux would also count the parent's peak from before the exec)."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 2**10


class Meter:
    """Wall and CPU time of a block, and the peak RSS growth since the meter was created."""

    def __init__(self) -> None:
        self.base_mb = rss_mb()

    def peak_delta_mb(self) -> float:
        return max(0.0, peak_rss_mb() - self.base_mb)

    @staticmethod
    def now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()


def timed(n: int, steps: int, wall: float, cpu: float, meter: Meter, build_s: float) -> dict[str, Any]:
    return {
        "agents": n, "steps": steps, "build_s": round(build_s, 4),
        "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
        "ms_per_step_wall": round(1e3 * wall / steps, 3), "ms_per_step_cpu": round(1e3 * cpu / steps, 3),
        "agent_steps_per_s_wall": n * steps / wall, "agent_steps_per_s_cpu": n * steps / max(cpu, 1e-9),
        "peak_mb": round(meter.peak_delta_mb(), 1),
    }


# -- workers (each runs in its own process) ---------------------------------------------------
def work_populace(n: int, warmup: int, steps: int, events: str) -> dict[str, Any]:
    """populace's rules tier through ``Simulation``, recording to a run directory as ``populace run`` does."""
    import populace
    from populace import Simulation, load_scenario
    from populace.runs import Run

    SCRATCH.mkdir(exist_ok=True)
    # a tiny run first, so lazily imported modules (worlds, minds, Parquet) are not counted below
    Simulation(load_scenario(SCENARIO, ["population.size=10", "steps=2"])).run()
    with tempfile.TemporaryDirectory(dir=SCRATCH) as runs_dir:
        meter = Meter()
        t0, _ = Meter.now()
        scenario = load_scenario(SCENARIO, [
            f"population.size={n}", f"seed={SEED}", f"steps={10 * (warmup + steps) + 1000}",
            f"trace.events={events}", "trace.flush_every=10", "trace.checkpoint_every=100000",
        ])
        sim = Simulation(scenario, Run.create(Path(runs_dir), scenario))
        build_s = time.perf_counter() - t0
        marks: list[tuple[float, float]] = []

        def progress(result: Any) -> None:
            if result.step in (warmup - 1, warmup + steps - 1):
                marks.append(Meter.now())

        async def go() -> tuple[float, float]:
            # timed: the steps after the warm-up, each writing its events as it goes (every 10 steps a
            # part); not the checkpoint and snapshot the run takes when it pauses after them, a cost
            # per checkpoint, not per step (docs/performance.md gives it)
            await sim.arun(warmup + steps, progress)
            (w0, c0), (w1, c1) = marks
            return w1 - w0, c1 - c0

        wall, cpu = asyncio.run(go())
        result = timed(n, steps, wall, cpu, meter, build_s)
        result["gini"] = sim.world.metrics()["gini"]
        result["version"] = getattr(populace, "__version__", "?")
        return result


def hand_step_fn(n: int, rng: Any, with_metrics: bool) -> Any:
    """One step of the same dynamics, hand-written: every agent with wealth gives a unit to a random other."""
    import numpy as np

    wealth = np.ones(n, dtype=np.int64)

    def step() -> np.ndarray:
        givers = np.flatnonzero(wealth > 0)
        to = rng.integers(0, n - 1, len(givers))
        to += to >= givers  # skip oneself
        wealth[givers] -= 1
        wealth[:] += np.bincount(to, minlength=n)
        if with_metrics:  # the same per-step measurements, computed the same way, as the populace world
            ordered = np.sort(wealth)
            values = np.arange(int(ordered[-1]) + 1)
            counts = np.diff(np.searchsorted(ordered, np.append(values, values[-1] + 1)))
            total = int(counts @ values)
            cumulative = np.cumsum(counts)
            weighted = int(values @ (counts * (cumulative - counts) + counts * (counts + 1) // 2))
            k = int(0.9 * n)
            j = int(np.searchsorted(cumulative, k))
            poorest = int(counts[:j] @ values[:j]) + (k - (int(cumulative[j - 1]) if j else 0)) * j
            _ = 2.0 * weighted / (n * total) - (n + 1) / n, counts[0] / n, (total - poorest) / total
        return wealth

    return step


def work_numpy(n: int, warmup: int, steps: int, with_metrics: bool) -> dict[str, Any]:
    """The hand loop: at least ``steps`` steps and at least ``HAND_MIN_CPU_S`` of CPU time (it is fast)."""
    import numpy as np

    meter = Meter()
    t0, _ = Meter.now()
    step = hand_step_fn(n, np.random.default_rng(SEED), with_metrics)
    build_s = time.perf_counter() - t0
    for _ in range(warmup):
        step()
    w0, c0 = Meter.now()
    done = 0
    while done < steps or time.process_time() - c0 < HAND_MIN_CPU_S:
        wealth = step()
        done += 1
    w1, c1 = Meter.now()
    result = timed(n, done, w1 - w0, c1 - c0, meter, build_s)
    result["version"] = np.__version__
    result["total"] = int(wealth.sum())
    return result


def work_mesa(n: int, warmup: int, steps: int) -> dict[str, Any]:
    """Mesa 3's Boltzmann wealth model, non-spatial, with populace's simultaneous update.

    Agents first choose (on start-of-step wealth) and then settle, so the dynamics equal
    populace's; the list of agents is kept once so picking a partner is O(1).
    """
    import mesa

    class WealthAgent(mesa.Agent):
        def __init__(self, model: Any, index: int) -> None:
            super().__init__(model)
            self.index = index
            self.wealth = 1
            self.target: WealthAgent | None = None

        def choose(self) -> None:
            if self.wealth > 0:
                other = self.random.randrange(self.model.n - 1)
                self.target = self.model.everyone[other + (other >= self.index)]
            else:
                self.target = None

        def settle(self) -> None:
            if self.target is not None:
                self.wealth -= 1
                self.target.wealth += 1

    class WealthModel(mesa.Model):
        def __init__(self, n: int, seed: int) -> None:
            super().__init__(seed=seed)
            self.n = n
            self.everyone = [WealthAgent(self, i) for i in range(n)]

        def step(self) -> None:
            self.agents.do("choose")
            self.agents.do("settle")

    WealthModel(10, SEED).step()  # imports and first-use costs, not counted below
    meter = Meter()
    t0, _ = Meter.now()
    model = WealthModel(n, SEED)
    build_s = time.perf_counter() - t0
    for _ in range(warmup):
        model.step()
    w0, c0 = Meter.now()
    for _ in range(steps):
        model.step()
    w1, c1 = Meter.now()
    result = timed(n, steps, w1 - w0, c1 - c0, meter, build_s)
    result["version"] = mesa.__version__
    result["total"] = sum(a.wealth for a in model.everyone)
    return result


def work_personas(n: int) -> dict[str, Any]:
    """Sample a population of ``n`` agents from declared distributions (one attribute conditional)."""
    import numpy as np

    from populace.scenario import load_scenario
    from populace.simulation import build_population

    scenario = load_scenario(SCENARIO, [f"population.size={n}"])
    scenario = scenario.model_copy(update={"population": scenario.population.model_validate(
        {"size": n, "attributes": PERSONAS})})
    meter = Meter()
    w0, c0 = Meter.now()
    population = build_population(scenario, np.random.default_rng(SEED))
    w1, c1 = Meter.now()
    return {
        "agents": population.size, "attributes": len(population.columns),
        "wall_s": round(w1 - w0, 4), "cpu_s": round(c1 - c0, 4), "peak_mb": round(meter.peak_delta_mb(), 1),
        "column_mb": round(sum(population[c].nbytes for c in population.columns) / 2**20, 1),
    }


def check_same_dynamics(n: int = 2000, steps: int = 30) -> bool:
    """populace's wealth world and the hand loop, fed the same random stream, end in the same state."""
    import numpy as np

    from populace import Simulation, load_scenario

    scenario = load_scenario(SCENARIO, [f"population.size={n}", f"seed={SEED}", f"steps={steps}"])
    sim = Simulation(scenario).run()
    mind_rng = np.random.default_rng(np.random.SeedSequence(SEED).spawn(4)[3].spawn(1)[0])
    step = hand_step_fn(n, mind_rng, with_metrics=False)
    for _ in range(steps):
        wealth = step()
    return bool(np.array_equal(wealth, sim.world.wealth))


# -- the driver ------------------------------------------------------------------------------
def ensure_mesa() -> Path:
    """The Mesa virtual environment's python, created with ``MESA_REQUIREMENT`` if missing."""
    python = MESA_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {MESA_VENV.relative_to(ROOT)} with {MESA_REQUIREMENT} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(MESA_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", MESA_REQUIREMENT], check=True)
    return python


def spawn(python: Path | str, worker: str, source: Path | None = None, **params: Any) -> dict[str, Any]:
    """Run one worker in a fresh process (populace from ``source`` if given) and return its result."""
    argv = [str(python), str(Path(__file__).resolve()), "--worker", worker, "--params", json.dumps(params)]
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    return in_fresh_process(argv, cwd=ROOT, env=env)


def run_worker(name: str, params: dict[str, Any]) -> None:
    workers: dict[str, Callable[..., dict[str, Any]]] = {
        "populace": work_populace, "numpy": work_numpy, "mesa": work_mesa, "personas": work_personas,
    }
    print(json.dumps(workers[name](**params)))


def median_run(repeat: int, python: Path | str, worker: str, source: Path | None = None,
               **params: Any) -> dict[str, Any]:
    """The run with the median CPU time of ``repeat`` fresh runs (the machine may be shared)."""
    runs = sorted((spawn(python, worker, source, **params) for _ in range(repeat)), key=lambda r: r["cpu_s"])
    row = runs[len(runs) // 2]
    if repeat > 1:
        row["cpu_s_runs"] = [r["cpu_s"] for r in runs]
    return row


def export_source(ref: str) -> tuple[str, Path]:
    """``src/`` of a git revision, exported to the scratch directory; returns (short name, path)."""
    short = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()
    target = SCRATCH / f"src-{short}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", short, "src"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return short, target / "src"


def engine_rows(sizes: list[int], warmup: int, budget: int, min_steps: int, repeat: int, mesa: bool,
                baseline: tuple[str, Path] | None) -> list[dict[str, Any]]:
    """Every engine at every size: populace times about ``budget`` agent-steps, Mesa a fifth of that
    (at least ``min_steps`` each); the hand loop runs for at least ``HAND_MIN_CPU_S``."""
    rows: list[dict[str, Any]] = []
    mesa_python = ensure_mesa() if mesa else None
    mesa_rate: float | None = None  # agent-steps/s measured at the last size, to predict the next
    for n in sizes:
        steps = max(min_steps, budget // n)
        mesa_steps = max(min_steps, budget // 5 // n)
        plan: list[tuple[str, str, Path | None, dict[str, Any]]] = [
            ("populace", "populace (events: all)", None, {"events": "all"}),
            ("populace", "populace (events: none)", None, {"events": "none"}),
        ]
        if baseline is not None:
            plan += [("populace", f"populace@{baseline[0]} (events: {e})", baseline[1], {"events": e})
                     for e in ("all", "none")]
        plan += [
            ("numpy", "hand NumPy", None, {"with_metrics": False}),
            ("numpy", "hand NumPy + metrics", None, {"with_metrics": True}),
        ]
        for worker, label, source, extra in plan:
            print(f"  {label:34s} n={n:>9,} ...", end="", flush=True)
            row = {"engine": label, **median_run(repeat, sys.executable, worker, source, n=n, warmup=warmup,
                                                 steps=steps, **extra)}
            print(f" {row['ms_per_step_cpu']:10.2f} ms/step cpu", flush=True)
            rows.append(row)
        if mesa_python is not None:
            label = "Mesa"
            # one run's predicted time from the last size's speed (plus ~5 steps' worth for building)
            predicted = None if mesa_rate is None else n * (warmup + mesa_steps + 5) / mesa_rate
            if predicted is not None and predicted > MESA_LIMIT_S:
                rows.append({"engine": label, "agents": n,
                             "skipped": f"one run would take ~{predicted:.0f} s (limit {MESA_LIMIT_S:.0f} s)"})
                print(f"  {label:34s} n={n:>9,} skipped (one run would take ~{predicted:.0f} s)")
                continue
            runs = repeat if predicted is None or predicted * repeat <= MESA_LIMIT_S else 1
            print(f"  {label:34s} n={n:>9,} ...", end="", flush=True)
            row = {"engine": label, **median_run(runs, mesa_python, "mesa", n=n, warmup=warmup, steps=mesa_steps)}
            mesa_rate = row["agent_steps_per_s_wall"]
            print(f" {row['ms_per_step_cpu']:10.2f} ms/step cpu", flush=True)
            rows.append(row)
    return rows


def ratios(rows: list[dict[str, Any]], n: int, baseline: str | None) -> dict[str, float | None]:
    """At ``n`` agents (CPU time per step): populace's speed-up over Mesa, its time over the hand loop's,
    and the speed-up over the baseline revision if one was measured."""
    def cpu(engine: str) -> float | None:
        for row in rows:
            if row["engine"] == engine and row["agents"] == n and "cpu_s" in row:
                return float(row["ms_per_step_cpu"])
        return None

    out: dict[str, float | None] = {}
    for events in ("all", "none"):
        mine, mesa = cpu(f"populace (events: {events})"), cpu("Mesa")
        hand, hand_m = cpu("hand NumPy"), cpu("hand NumPy + metrics")
        out[f"speedup_vs_mesa_events_{events}"] = mesa / mine if mine and mesa else None
        out[f"time_vs_hand_events_{events}"] = mine / hand if mine and hand else None
        out[f"time_vs_hand_with_metrics_events_{events}"] = mine / hand_m if mine and hand_m else None
        if baseline is not None:
            before = cpu(f"populace@{baseline} (events: {events})")
            out[f"speedup_vs_{baseline}_events_{events}"] = before / mine if mine and before else None
    return out


def print_table(rows: list[dict[str, Any]], personas: dict[str, Any], summary: dict[str, Any]) -> None:
    head = f"{'engine':34s} {'agents':>9s} {'agent-steps/s wall':>19s} {'agent-steps/s cpu':>18s} " \
           f"{'ms/step cpu':>12s} {'peak MB':>8s} {'build s':>8s}"
    print("\n" + head + "\n" + "-" * len(head))
    for row in rows:
        if "skipped" in row:
            print(f"{row['engine']:34s} {row['agents']:>9,}   skipped: {row['skipped']}")
            continue
        print(f"{row['engine']:34s} {row['agents']:>9,} {row['agent_steps_per_s_wall']:>19,.0f} "
              f"{row['agent_steps_per_s_cpu']:>18,.0f} {row['ms_per_step_cpu']:>12.2f} {row['peak_mb']:>8.1f} "
              f"{row['build_s']:>8.2f}")
    print(f"\npersonas: {personas['agents']:,} agents x {personas['attributes']} attributes sampled in "
          f"{personas['wall_s']:.2f} s wall ({personas['cpu_s']:.2f} s cpu), peak +{personas['peak_mb']:.0f} MB "
          f"(targets: < 2 s, < 500 MB)")
    for key, value in summary.items():
        print(f"{key}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10k and 100k agents only, one run each")
    parser.add_argument("--no-mesa", action="store_true", help="skip Mesa (no virtual environment is created)")
    parser.add_argument("--baseline", metavar="REF", help="also measure populace as of this git revision")
    parser.add_argument("--repeat", type=int, help="fresh runs per row, the median is kept (default 3; quick 1)")
    parser.add_argument("--out", type=Path, help="where to write the JSON results (default: "
                        "benchmarks/results/engine.json; with --quick, engine-quick.json beside it, not committed)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, json.loads(args.params))
        return
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    warmup, budget, min_steps = (2, 2_000_000, 10) if args.quick else (3, 10_000_000, 10)
    repeat = args.repeat or (1 if args.quick else 3)
    SCRATCH.mkdir(exist_ok=True)
    try:
        baseline = export_source(args.baseline) if args.baseline else None
        print(f"engine benchmark: {sizes} agents; {warmup} warm-up steps, then ~{budget:,} agent-steps "
              f"(Mesa a fifth; at least {min_steps} steps; the hand loop >= {HAND_MIN_CPU_S} s cpu) timed; "
              f"median of {repeat} run(s) per row")
        same = check_same_dynamics()
        print(f"populace and the hand loop give identical wealth for the same random stream: {same}")
        rows = engine_rows(sizes, warmup, budget, min_steps, repeat, not args.no_mesa, baseline)
        print("  personas ...", flush=True)
        personas = median_run(repeat, sys.executable, "personas", n=1_000_000)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    at = 100_000
    found = ratios(rows, at, baseline[0] if baseline else None)
    print_table(rows, personas, {f"at {at:,} agents (cpu time)": {k: None if v is None else round(v, 2)
                                                                 for k, v in found.items()}})
    import numpy as np

    import populace

    command = "python benchmarks/engine.py" + (" --quick" if args.quick else "") + \
        (f" --baseline {args.baseline}" if args.baseline else "") + (f" --repeat {args.repeat}" if args.repeat else "")
    report = {
        "benchmark": "engine", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "command": command,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "versions": {"populace": getattr(populace, "__version__", "?"), "numpy": np.__version__,
                     "mesa": next((r["version"] for r in rows if r["engine"] == "Mesa" and "version" in r), None),
                     "baseline": baseline[0] if baseline else None},
        "method": {
            "model": "Boltzmann wealth: every agent with wealth gives one unit to a uniformly random other agent, "
                     "all at once (simultaneous update); 1 unit each at the start",
            "warmup_steps": warmup, "timed_agent_steps": budget, "mesa_timed_agent_steps": budget // 5,
            "min_timed_steps": min_steps, "hand_min_cpu_s": HAND_MIN_CPU_S, "seed": SEED,
            "repeat": repeat, "kept": "the run with the median CPU time",
            "trace": "a run directory as `populace run` writes it; flush_every=10 (the default); no checkpoints; "
                     "writing the buffered events at the end is inside the timed span",
            "memory": "peak RSS (VmHWM) minus RSS after imports and a tiny warm-up model, fresh process per row",
            "time": "wall = perf_counter, cpu = process_time (all threads), over the timed steps",
        },
        "same_dynamics_checked": same,
        "rows": rows, "personas": personas, "ratios_at_100k": found,
    }
    out: Path = args.out or (RESULTS.with_name("engine-quick.json") if args.quick else RESULTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_results(out, report)
    shown = out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out
    print(f"\nwrote {shown}")


if __name__ == "__main__":
    main()

"""Reports and the dashboard in bounded memory: peak memory and time of ``populace report`` on a
long run, and of the dashboard read as its page reads it while a long run is being written.

    .venv/bin/python benchmarks/report_memory.py                  # 100k agents: report of 1,000 steps,
                                                                  # dashboard over a live 1,500-step run
    .venv/bin/python benchmarks/report_memory.py --quick          # 20k agents, 100 and 1,000 steps
    .venv/bin/python benchmarks/report_memory.py --baseline REF   # also both, smaller, as of git REF

(a) ``populace run wealth --set population.size=N --set steps=S --no-report``, then ``populace
report`` on it, each in its own process: wall time and the process's peak resident set size
(``ru_maxrss`` from ``wait4``, so a process that fails is measured too).

(b) ``populace run`` of 1,500 steps and ``populace dashboard`` on it, in two processes; one reader
polls as the page does every 2 s: ``/api/progress``, and at each new step ``/api/series``,
``/api/feed``, ``/api/agents`` and the inspector of the most active agent, all at that step.
Response times per endpoint, and the dashboard process's peak resident set size (``VmHWM``).

A process whose resident set passes ``--memory-limit-gb`` is killed and recorded as such. With
``--baseline REF`` both cases are also measured at a smaller size (``--baseline-steps``,
``--baseline-live-steps``) for the current source and for ``src/`` as of REF, on the same runs.
Writes ``benchmarks/results/report_memory.json`` (``report_memory-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _results import results_file, write_results
from engine import export_source

from populace.llm.serve import free_port
from populace.reliability.dashboard_load import _answers, _wait

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRATCH = HERE / ".scratch" / "report_memory"
POLL_S = 2.0


def _status_mb(pid: int, field: str) -> float | None:
    """A ``/proc/<pid>/status`` memory field (``VmRSS``, ``VmHWM``) in MB, None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _environment(source: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    return env


def measured(argv: Sequence[str], env: Mapping[str, str], limit_mb: float) -> dict[str, Any]:
    """Run a command to its end: wall seconds, peak resident set (MB), exit code and its last error
    line; killed if its resident set passes ``limit_mb``."""
    started = time.perf_counter()
    with open(SCRATCH / "stderr.txt", "w+") as errors:
        proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=errors, env=dict(env), cwd=ROOT)
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _status_mb(proc.pid, "VmRSS")
            if rss is not None and rss > limit_mb and not killed:
                proc.send_signal(signal.SIGKILL)
                killed = True
            time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        lines = [line.strip() for line in errors.read().splitlines() if line.strip()]
    return {"wall_s": round(time.perf_counter() - started, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "exit": proc.returncode, "killed_over_mb": round(limit_mb) if killed else None,
            "error": lines[-1][:300] if proc.returncode and lines else None}


def wealth_run(runs: Path, agents: int, steps: int, limit_mb: float) -> tuple[Path, dict[str, Any]]:
    """A finished wealth run (no report) and what making it cost."""
    shutil.rmtree(runs, ignore_errors=True)
    cost = measured([sys.executable, "-m", "populace", "run", "wealth", "--set", f"population.size={agents}",
                     "--set", f"steps={steps}", "--runs-dir", str(runs), "--no-report", "-q"], os.environ, limit_mb)
    if cost["exit"] != 0:
        raise SystemExit(f"the run failed: {cost['error']}")
    (run,) = runs.iterdir()
    return run, cost


def events_in(run: Path) -> int:
    from populace import analysis

    return int(analysis.query(run, "SELECT count(*) AS n FROM {events}")["n"].item())


def report_case(run: Path, agents: int, steps: int, source: tuple[str, Path] | None,
                limit_mb: float) -> dict[str, Any]:
    """``populace report`` on ``run`` (with the populace of ``source``, default this one)."""
    result = measured([sys.executable, "-m", "populace", "report", str(run), "--out", str(SCRATCH / "report.html")],
                      _environment(source[1] if source else None), limit_mb)
    return {"case": "populace report", "source": source[0] if source else "current", "agents": agents,
            "steps": steps, "events": events_in(run), **result}


def _get(url: str) -> tuple[float, int, Any]:
    """Milliseconds to fetch and read ``url``, its status and its JSON."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=600) as response:
            status, body = response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        status, body = exc.code, None
    return (time.perf_counter() - started) * 1000, status, body


def dashboard_case(agents: int, steps: int, source: tuple[str, Path] | None, limit_mb: float) -> dict[str, Any]:
    """A dashboard read as the page reads it while a ``steps``-step run of ``agents`` is written."""
    runs = SCRATCH / "live"
    shutil.rmtree(runs, ignore_errors=True)
    # the run is always this populace's (what is measured is the dashboard reading it)
    sim = subprocess.Popen([sys.executable, "-m", "populace", "run", "wealth", "--set", f"population.size={agents}",
                            "--set", f"steps={steps}", "--runs-dir", str(runs), "--no-report", "-q"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    board: subprocess.Popen[bytes] | None = None
    latencies: dict[str, list[float]] = {}
    errors, killed, started = 0, False, time.perf_counter()

    def first_steps() -> bool:
        if sim.poll() is not None and sim.returncode != 0:
            raise SystemExit(f"the live run failed: {sim.stderr.read().decode()[-500:] if sim.stderr else ''}")
        return runs.is_dir() and any(runs.iterdir()) and any((next(runs.iterdir()) / "steps").glob("*.parquet"))

    try:
        _wait(first_steps, 300, "the run's first steps")
        (run,) = runs.iterdir()
        port = free_port()
        board = subprocess.Popen([sys.executable, "-m", "populace", "dashboard", str(run), "--port", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=_environment(source[1] if source else None), cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(base + "/api/progress"), 120, "the dashboard")
        last, agent, finished = None, 0, False
        while not finished and not killed:
            finished = sim.poll() is not None  # one more round after the run ends: the final state
            cycle = time.monotonic()
            ms, status, progress = _get(base + "/api/progress")
            latencies.setdefault("/api/progress", []).append(ms)
            errors += status != 200
            step = progress["last_step"] if status == 200 else last
            rounds = []
            if step != last:
                last = step
                rounds = [("/api/series", "/api/series"), ("/api/feed", f"/api/feed?step={step}"),
                          ("/api/agents", f"/api/agents?step={step}"), ("/api/agents/{agent}", "")]
            for name, path in rounds:  # the inspector shows the most active agent of the list before it
                ms, status, body = _get(base + (path or f"/api/agents/{agent}?step={step}"))
                latencies.setdefault(name, []).append(ms)
                errors += status != 200
                if name == "/api/agents" and status == 200 and body:
                    agent = int(body[0]["agent"])
                rss = _status_mb(board.pid, "VmRSS")
                if rss is not None and rss > limit_mb:
                    killed = True
                    break
            time.sleep(max(0.0, POLL_S - (time.monotonic() - cycle)))
        peak = _status_mb(board.pid, "VmHWM")
        steps_done = last + 1 if last is not None else 0
    finally:
        for proc in (board, sim):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
    return {
        "case": "dashboard on a live run", "source": source[0] if source else "current", "agents": agents,
        "steps": steps, "steps_seen": steps_done, "wall_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak) if peak is not None else None, "killed_over_mb": round(limit_mb) if killed else None,
        "errors": errors, "requests": sum(len(v) for v in latencies.values()),
        "latency_ms": {name: {"p50": round(float(np.percentile(v, 50)), 1),
                              "p95": round(float(np.percentile(v, 95)), 1), "max": round(max(v), 1), "n": len(v)}
                       for name, v in latencies.items()},
    }


HEADER = f"{'case':26} {'source':>9} {'agents':>8} {'steps':>6} {'wall s':>8} {'peak MB':>8}  notes"


def line(r: dict[str, Any]) -> str:
    """One row of the printed table."""
    if r["case"] == "populace report":
        notes = f"{r['events']:,} events" + (f"; exit {r['exit']}: {r['error']}" if r["exit"] else "")
    else:
        series = r["latency_ms"].get("/api/series", {})
        agent = r["latency_ms"].get("/api/agents/{agent}", {})
        notes = (f"{r['requests']} requests, {r['errors']} errors; /api/series p50 {series.get('p50')} ms, "
                 f"max {series.get('max')} ms; inspector p50 {agent.get('p50')} ms")
    if r.get("killed_over_mb"):
        notes += f"; killed over {r['killed_over_mb']:,} MB"
    return (f"{r['case']:26} {r['source']:>9} {r['agents']:>8,} {r['steps']:>6} {r['wall_s']:>8} "
            f"{r['peak_rss_mb'] or '-':>8}  {notes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 agents, 100 and 1,000 steps")
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=1_000, help="steps of the run the report reads")
    parser.add_argument("--live-steps", type=int, default=1_500, help="steps of the run the dashboard follows")
    parser.add_argument("--baseline", metavar="REF", help="also measure src/ as of this git revision, smaller")
    parser.add_argument("--baseline-steps", type=int, default=200)
    parser.add_argument("--baseline-live-steps", type=int, default=300)
    parser.add_argument("--memory-limit-gb", type=float, default=12.0, help="kill a process whose memory passes this")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.steps, args.live_steps, args.baseline = 20_000, 100, 1_000, None
    limit_mb = args.memory_limit_gb * 1024
    SCRATCH.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []

    def add(row: dict[str, Any]) -> None:
        rows.append(row)
        print(line(row), flush=True)

    print(HEADER, flush=True)
    run, made = wealth_run(SCRATCH / "runs", args.agents, args.steps, limit_mb)
    add(report_case(run, args.agents, args.steps, None, limit_mb))
    add(dashboard_case(args.agents, args.live_steps, None, limit_mb))
    if args.baseline:
        before = export_source(args.baseline)
        small, _ = wealth_run(SCRATCH / "runs", args.agents, args.baseline_steps, limit_mb)
        for source in (None, before):
            add(report_case(small, args.agents, args.baseline_steps, source, limit_mb))
        for source in (None, before):
            add(dashboard_case(args.agents, args.baseline_live_steps, source, limit_mb))
    write_results(results_file("report_memory", args.quick), {
        "benchmark": "report_memory",
        "command": "python benchmarks/report_memory.py" + (" --quick" if args.quick else "")
                   + (f" --baseline {args.baseline}" if args.baseline else ""),
        "notes": "peak_rss_mb: the whole process's peak resident set (populace report: ru_maxrss from wait4; "
                 "dashboard: VmHWM). The dashboard is read by one reader polling as the page does every 2 s.",
        "run_for_report": {"agents": args.agents, "steps": args.steps, **made},
        "results": rows,
    })
    shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()

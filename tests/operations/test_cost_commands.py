"""The command line of estimates, budgets and interviews: what it prints, and its one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def populace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "populace", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "250"})


def test_a_budget_stop_resume_with_more_then_interview_and_estimate(tmp_path: Path) -> None:
    runs = str(tmp_path / "runs")
    capped = populace("run", "untrusted-text", "--runs-dir", runs, "--set", "budget.calls=10", "--no-report", "-q")
    assert capped.returncode == 0, capped.stderr
    assert "budget exhausted: 16 of 10 model calls; stopped after 2/4 steps" in capped.stdout
    (run,) = Path(runs).iterdir()
    shown = populace("show", run.name, "--runs-dir", runs)
    assert "status=budget_exhausted steps=2/4" in shown.stdout and "budget exhausted: 16 of 10" in shown.stdout
    refused = populace("resume", run.name, "--runs-dir", runs, "--set", "seed=3")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "may change only its budget" in refused.stderr
    more = populace("resume", run.name, "--runs-dir", runs, "--set", "budget.calls=100", "--no-report", "-q")
    assert more.returncode == 0 and "run " + run.name + ": 4/4 steps" in more.stdout, more.stderr

    scale = json.dumps({"type": "integer", "minimum": 1, "maximum": 5})
    asked = populace("interview", run.name, "--runs-dir", runs, "--at", "3", "--sample", "4", "--structured", scale,
                     "How sure are you?")
    assert asked.returncode == 0, asked.stderr
    assert "as of step 2 (the checkpoint at or before step 3), 4 agent(s) asked: How sure are you?" in asked.stdout
    assert "answers: 1 ×4 (mean 1.00 of 4)" in asked.stdout  # the scripted model's least valid answer
    assert len(list((run / "interviews").glob("*.parquet"))) == 1
    bad = populace("interview", run.name, "--runs-dir", runs, "--structured", "{not json", "Hello?")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --structured {not json: not JSON")

    estimated = populace("estimate", "untrusted-text", "--pilot-steps", "2", "-q")
    assert estimated.returncode == 0, estimated.stderr
    assert "estimate for untrusted-text: 4 steps, from a pilot of 2" in estimated.stdout
    assert "minds.1 (archetype)" in estimated.stdout and "within a factor of 2" in estimated.stdout

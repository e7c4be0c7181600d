"""Shared fixtures: every test runs in its own working directory, so runs/ never leaks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POPULACE_RUNS", raising=False)


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(f"{report.nodeid}: {report.longrepr[-1] if isinstance(report.longrepr, tuple) else ''}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI every dependency is installed, so a skipped test is a broken set-up, not a pass."""
    if os.environ.get("CI") and _skipped:
        print("\nskipped in CI (each must run):\n  " + "\n  ".join(_skipped))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


#: set in the child that runs one ``native`` test, so the child runs it in-process
_IN_CHILD = "POPULACE_NATIVE_TEST_CHILD"


def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Run a test marked ``native`` in a child pytest: a crash in native code (llama.cpp) fails that
    test, naming the signal, and the suite goes on. A child process rather than a fork: the parent
    holds threads (DuckDB, Ray, servers) that a fork would copy mid-flight."""
    if item.get_closest_marker("native") is None or os.environ.get(_IN_CHILD):
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "--no-header", "-p", "no:cacheprovider", item.nodeid],
        cwd=item.config.rootpath, env={**os.environ, _IN_CHILD: "1"}, capture_output=True, text=True, timeout=600,
    )
    output = (child.stdout + child.stderr).strip()
    summary = output.splitlines()[-1] if output else ""
    longrepr: str | tuple[str, int, str] | None = None
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        outcome = "failed"
        longrepr = f"crashed with signal {-child.returncode} ({name}) in native code\n{output[-4000:]}"
    elif child.returncode == 0 and " skipped" in summary and " passed" not in summary:
        outcome = "skipped"
        longrepr = (str(item.path), item.location[1] or 0, f"Skipped: in the child process: {summary}")
    elif child.returncode == 0:
        outcome = "passed"
    else:
        outcome = "failed"
        longrepr = output[-8000:]
    report = pytest.TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), outcome,
                               longrepr, "call")
    item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True

"""Faults injected between generative agents and a real llama.cpp server: the run completes and its
trace records every injected fault, once, as a failed decision with the fault's cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from populace.reliability.model_faults import CAUSES, run_with_faults

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")


def test_every_injected_fault_is_a_failed_decision_with_its_cause(tmp_path: Path) -> None:
    from populace.llm.serve import LlamaServer

    rates = {"drop": 0.1, "http_429": 0.1, "http_500": 0.1, "truncated_json": 0.1, "invalid_action": 0.1,
             "endless_stream": 0.05, "delay": 0.05}
    with LlamaServer(threads=1) as server:
        report = run_with_faults(server.base_url, server.alias, tmp_path, rates=rates, steps=2, agents=6,
                                 timeout=15.0, seed=3)  # a real answer takes 1-6 s; a margin for a busy machine
    assert report.completed
    assert report.requests == 12  # 6 generative agents x 2 steps, one decision request each
    assert sum(report.injected.values()) >= 6 and len([k for k, v in report.injected.items() if v]) >= 5
    assert report.lost == {cause: 0 for cause in set(CAUSES.values())}, report
    assert report.other_failures == {} and report.failed_reasons_all_named
    assert sum(report.recorded.values()) == sum(report.injected.values())
    assert report.exact

"""Faults injected between generative agents and a real llama.cpp server: the run completes and its
trace records every injected fault, once, as a failed decision with the fault's cause (a timeout
where the model answered only after the client gave up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from populace.reliability.model_faults import CAUSES, run_with_faults

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")


def test_every_injected_fault_is_a_failed_decision_with_its_cause(tmp_path: Path) -> None:
    from populace.llm.serve import LlamaServer

    rates = {"drop": 0.1, "http_429": 0.1, "http_500": 0.1, "truncated_json": 0.1, "invalid_action": 0.1,
             "endless_stream": 0.05, "delay": 0.05}
    with LlamaServer(threads=1) as server:  # seed 264 draws six kinds of fault in the first 8 requests
        report = run_with_faults(server.base_url, server.alias, tmp_path, rates=rates, steps=2, agents=4,
                                 timeout=15.0, seed=264)  # a real answer takes 1-10 s; a margin for a busy machine
    assert report.completed
    assert report.requests == 8  # 4 generative agents x 2 steps, one decision request each
    assert report.decisions == report.requests  # every request is a decision in the step table
    assert sum(report.injected.values()) >= 6 and len([k for k, v in report.injected.items() if v]) >= 6
    assert report.lost == {cause: 0 for cause in set(CAUSES.values())}, report
    assert report.other_failures == {} and report.failed_reasons_all_named
    # every fault the client received is recorded; one the model answered too late for is a timeout
    assert sum(report.recorded.values()) == sum(report.injected.values()) + report.late.get("forwarded", 0)
    assert report.exact

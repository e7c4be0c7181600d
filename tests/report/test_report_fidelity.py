from __future__ import annotations

import json
from pathlib import Path

from populace.report.fidelity import fidelity_rows
from populace.runs import Run
from populace.scenario import load_scenario


def test_each_model_driven_tier_gets_its_figures_or_is_marked_unmeasured(tmp_path: Path) -> None:
    scenario = load_scenario("misinformation-mixed", [
        "minds=[{select: \"name == 'user_32'\", type: generative},"
        " {select: \"name == 'user_21'\", type: archetype, prompt: 'x {options}', options: [do_nothing],"
        "  model: {backend: openai, base_url: 'http://127.0.0.1:9/v1', model: big}},"
        " {select: all, type: similarity, interests: '{persona.description}', content: feed_items,"
        "  options: {like: {action: like_post, args: {post_id: item.post}}}, weights: {like: {bias: -1}}}]",
    ])
    run = Run.create(tmp_path, scenario)
    rows = {row["mind"]: row for row in fidelity_rows(run)}
    embedded = rows["generative on embedded"]
    assert embedded["source"] == "shipped measurement" and embedded["auc"] < 0.6
    assert embedded["verdict"].startswith("near chance")
    assert rows["archetype on openai (big)"]["source"].startswith("not measured")
    assert rows["similarity tier (minilm)"]["auc"] > 0.9
    (run.path / "fidelity.json").write_text(json.dumps({"openai": {"auc": 0.81, "valid_json": 1.0}}))
    measured = {row["mind"]: row for row in fidelity_rows(run)}["archetype on openai (big)"]
    assert measured["source"] == "this run" and measured["auc"] == 0.81 and measured["verdict"] == "persona-driven"

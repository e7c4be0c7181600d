"""Run the ``python`` block of docs/experiments.md, and check the experiment file it shows."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from populace.operations.experiment import ExperimentSpec

DOC = Path(__file__).resolve().parents[2] / "docs" / "experiments.md"


def test_experiments_doc_runs_and_its_experiment_file_is_valid() -> None:
    text = DOC.read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    exec(compile(block, f"{DOC.name} python block", "exec"), {})
    (spec,) = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    parsed = ExperimentSpec.model_validate(yaml.safe_load(spec))
    assert parsed.grid == {"minds.0.params.herd": [0, 0.3, 0.6]} and parsed.compare.baseline == "herd=0"

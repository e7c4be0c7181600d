"""Fork ensembles and comparisons: forks that draw afresh after the fork step, a difference whose interval
excludes 0 where the change matters (herding) and includes it where nothing changed, on one page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from populace import Simulation, analysis
from populace.cli import app
from populace.operations.compare import Group, compare
from populace.operations.experiment import Experiment
from populace.operations.fork import fork
from populace.runs import Run


@pytest.fixture(scope="module")
def parent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = Simulation.from_scenario("herd-effect", ["population.size=100", "steps=16"],
                                   tmp_path_factory.mktemp("herd")).run()
    assert sim.path is not None
    return sim.path


@pytest.fixture(scope="module")
def herding(parent: Path) -> Path:
    """``populace fork PARENT --at 4 --seeds 5 --set minds.0.params.herd=0.9``: raters follow visible scores
    three times as much from step 4 on."""
    done = CliRunner().invoke(app, ["fork", str(parent), "--at", "4", "--seeds", "5", "--set",
                                    "minds.0.params.herd=0.9", "--jobs", "1", "-q"])
    assert done.exit_code == 0, done.output
    (folder,) = parent.parent.glob(f"{parent.name}-at4-*")
    assert "the difference to base excludes 0" in " ".join(done.output.split())
    assert str(folder / "report.html") in done.output.replace("\n", "")
    return folder


def test_herding_from_the_fork_step_on_lowers_disagreement_beyond_the_spread_over_seeds(herding: Path) -> None:
    compared = pd.read_parquet(herding / "comparison.parquet").set_index("metric")
    row = compared.loc["herd_disagreement"]  # the minority share of later votes on treated comments
    assert row["cell"] == "fork" and row["n"] == row["baseline_n"] == 5
    assert row["ci_high"] < 0 and row["p"] < 0.05
    html = (herding / "report.html").read_text(encoding="utf-8")
    assert 'data-metric="herd_disagreement"' in html and "minds.0.params.herd=0.9" in html


def test_each_fork_of_the_ensemble_is_its_parent_before_the_fork_step_and_its_own_draw_after(
        parent: Path, herding: Path, tmp_path: Path) -> None:
    first, second = (Run.open(herding / name) for name in ("base-seed1", "base-seed2"))
    assert first.manifest()["parent"]["at"] == 4 and first.manifest()["reseed"] == 1
    assert Run.open(herding / "fork-seed6").manifest()["reseed"] == 6  # the fork cell draws other seeds
    own, other, original = (analysis.metrics(r) for r in (first.path, second.path, parent))
    pd.testing.assert_frame_equal(own.loc[:3], original.loc[:3])
    assert not own.loc[4:].equals(other.loc[4:]) and not own.loc[4:].equals(original.loc[4:])
    again = fork(parent, 4, runs_dir=tmp_path, reseed=1).run()  # the same draw again gives the same run
    assert again.path is not None
    pd.testing.assert_frame_equal(analysis.metrics(again.path), own)
    events = [analysis.query(p, "SELECT * EXCLUDE (time) FROM {events} ORDER BY ALL") for p in (again.path, first.path)]
    pd.testing.assert_frame_equal(*events)


def test_a_fork_ensemble_without_a_change_shows_no_difference(parent: Path) -> None:
    results = Experiment.fork(parent, 4, 5, jobs=1).run(report=False)
    row = results.comparison.set_index("metric").loc["herd_disagreement"]
    assert row["ci_low"] < 0 < row["ci_high"]


def test_compare_puts_runs_and_cells_on_one_page_with_bands_and_a_table(herding: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    done = CliRunner().invoke(app, ["compare", str(herding), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "herd_disagreement" in done.output and "baseline" in done.output
    html = out.read_text(encoding="utf-8")
    assert html.count('<figure class="plot"') == 12 and "<pattern" in html  # a hatched band for the fork
    assert html.count("difference to base</figcaption>") == 6  # beside each metric, fork - base at every step
    assert "fork of " in html and "no script" not in html and "<script" not in html
    single = CliRunner().invoke(app, ["compare", str(herding / "base-seed1"), str(herding / "fork-seed6"),
                                      "--out", str(tmp_path / "two.html")])
    assert single.exit_code == 0, single.output
    assert "1 run per group" in " ".join(single.output.split())
    ensemble = compare([Group("base", tuple(sorted(herding.glob("base-seed*")))),
                        Group("fork", tuple(sorted(herding.glob("fork-seed*"))))])
    last = ensemble.over_time[ensemble.over_time["step"] == 15].set_index("metric")
    tested = ensemble.differences.set_index("metric")  # each run's last step is step 15
    assert last.loc["herd_disagreement", "ci_high"] == pytest.approx(tested.loc["herd_disagreement", "ci_high"])
    comparison = compare([Group("a", (herding / "base-seed1",)), Group("b", (herding / "fork-seed6",))])
    row = comparison.differences.set_index("metric").loc["comments"]
    assert row["n"] == 1 and pd.isna(row["ci_low"])  # one run each: a difference, no interval


def test_report_of_an_experiment_folder_is_its_band_report(herding: Path, tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["report", str(herding), "--out", str(tmp_path / "r.html")])
    assert done.exit_code == 0, done.output
    assert "Metrics over time" in (tmp_path / "r.html").read_text(encoding="utf-8")

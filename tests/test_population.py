from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from populace import Population, PopulationError


@pytest.fixture
def pop() -> Population:
    return Population({
        "age": np.array([20, 35, 50, 65, 35]),
        "gender": np.array(["f", "m", "f", "m", "f"], dtype=object),
        "wealth": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
    })


def test_an_agent_is_an_id_and_columns_align(pop: Population) -> None:
    assert pop.size == 5
    assert pop.ids.tolist() == [0, 1, 2, 3, 4]
    assert pop.row(2) == {"age": 50, "gender": "f", "wealth": 3.0}


def test_select_by_query_mask_ids_and_callable(pop: Population) -> None:
    assert pop.select("age > 30 and gender == 'f'").tolist() == [2, 4]
    assert pop.select("all").tolist() == [0, 1, 2, 3, 4]
    assert pop.select(np.array([True, False, False, False, True])).tolist() == [0, 4]
    assert pop.select(np.array([3, 1])).tolist() == [1, 3]
    assert pop.select(lambda p: p["wealth"] >= 4).tolist() == [3, 4]


def test_bad_selector_is_a_clear_error(pop: Population) -> None:
    with pytest.raises(PopulationError, match="selector"):
        pop.select("age >>> 3")
    with pytest.raises(PopulationError, match="true/false"):
        pop.select("age + 1")


def test_groupby_and_agg(pop: Population) -> None:
    groups = pop.groupby("gender")
    assert {k: v.tolist() for k, v in groups.items()} == {("f",): [0, 2, 4], ("m",): [1, 3]}
    assert pop.agg("wealth", "sum", by="gender") == {("f",): 9.0, ("m",): 6.0}
    assert pop.agg("age", "mean") == 41.0
    two = pop.groupby(["gender", "age"])
    assert two[("f", 35)].tolist() == [4]
    with pytest.raises(PopulationError, match="unknown aggregate"):
        pop.agg("age", "mode")


def test_shuffle_is_a_seeded_permutation(pop: Population) -> None:
    a = pop.shuffle(np.random.default_rng(3))
    b = pop.shuffle(np.random.default_rng(3))
    assert a.tolist() == b.tolist()
    assert sorted(a.tolist()) == [0, 1, 2, 3, 4]


def test_column_length_is_checked(pop: Population) -> None:
    with pytest.raises(PopulationError, match="3 rows"):
        pop["x"] = np.zeros(3)
    pop["flag"] = True
    assert pop["flag"].tolist() == [True] * 5


def test_from_csv_and_parquet(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text("age,name\n30,ann\n40,bob\n", encoding="utf-8")
    loaded = Population.from_file(csv)
    assert loaded.size == 2 and loaded["name"].tolist() == ["ann", "bob"]
    parquet = tmp_path / "people.parquet"
    pq.write_table(pa.table({"age": [1, 2, 3]}), parquet)
    assert Population.from_file(parquet)["age"].tolist() == [1, 2, 3]


def test_a_saved_row_index_is_dropped_and_other_nameless_columns_named(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text(",age,\n0,30,x\n1,40,y\n", encoding="utf-8")  # as pandas writes a frame with its index
    loaded = Population.from_file(csv)
    assert list(loaded.columns) == ["age", "column_2"] and loaded["column_2"].tolist() == ["x", "y"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "does not exist"),
        ("people.txt", "a\n1\n", "unsupported type"),
        ("empty.csv", "age\n", "no rows"),
        ("broken.parquet", "not parquet", "cannot be read"),
    ],
)
def test_bad_population_files(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PopulationError, match=message):
        Population.from_file(path)


def test_registry_refuses_a_different_entry_under_a_taken_name() -> None:
    from populace.registry import Registry

    registry: Registry[object] = Registry("thing")

    def first() -> None: ...

    def second() -> None: ...

    registry.add("x", first)
    registry.add("x", first)  # the same definition again is fine
    with pytest.raises(ValueError, match="already registered"):
        registry.add("x", second)


def test_a_selector_naming_a_missing_column_names_it_and_the_closest(pop: Population) -> None:
    pop["education"] = np.asarray(["school", "graduate"] * (pop.size // 2) + ["school"] * (pop.size % 2), dtype=object)
    with pytest.raises(PopulationError) as info:
        pop.mask("educaton == 'graduate'")
    message = str(info.value)
    assert "no column 'educaton'; did you mean 'education'?" in message and "columns: " in message
    assert "\n" not in message


def test_an_index_selector_works_without_any_column() -> None:
    assert Population(size=10).mask("index < 4").tolist() == [True] * 4 + [False] * 6

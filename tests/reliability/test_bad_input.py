"""Bad input files through the real loading path: every one loads, or fails with one clean line naming it.

Population files (CSV and Parquet), follow graphs (list columns and follow files) and injected-post
files are fuzzed with hypothesis and loaded by ``Simulation.from_scenario(load_scenario(...))``; a few
go through ``populace run`` in a subprocess, and so does a run directory on a full disk.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from populace import Simulation, load_scenario
from populace.errors import PopulaceError

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_names = itertools.count()

USERS = "name,bio,stance\n" + "".join(f"u{i},bio {i},0.{i}\n" for i in range(6))


def scenario(population: dict[str, Any], **params: Any) -> dict[str, Any]:
    """A one-step social run with rule minds over the given population and world params."""
    params.setdefault("follows", {"kind": "none"})
    return {"name": "bad-input", "seed": 1, "steps": 1, "population": population,
            "world": {"type": "social", "params": params},
            "minds": [{"select": "all", "type": "rules", "policy": "browse"}]}


def outcome(spec: dict[str, Any], runs: Path, *names: str) -> str:
    """'ok' if the scenario loads and steps, else the one-line error, checked to name the problem."""
    try:
        Simulation.from_scenario(load_scenario(spec), runs_dir=runs).run()
    except PopulaceError as exc:
        message = str(exc)
        assert message and "\n" not in message, message
        assert any(n in message for n in names), (names, message)
        return message
    return "ok"


def fresh(tmp_path: Path, suffix: str, data: bytes) -> Path:
    path = tmp_path / f"f{next(_names)}{suffix}"
    path.write_bytes(data)
    return path


# -- population files ------------------------------------------------------------------------------
cell_text = st.one_of(
    st.text(max_size=30),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["", "nan", "-1", "1e400", '"', '""', "[1, 2]", "\r", "\x00", "é", "\ufeff"]),
)
csv_rows = st.lists(st.lists(cell_text, min_size=0, max_size=5), min_size=0, max_size=6)
csv_bytes = st.one_of(
    csv_rows.map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.builds(lambda head, junk: head + junk, st.just(b"name,bio\n"), st.binary(max_size=100)),
)


@FUZZ
@given(data=csv_bytes)
def test_fuzzed_population_csv_loads_or_fails_cleanly(tmp_path: Path, data: bytes) -> None:
    path = fresh(tmp_path, ".csv", data)
    outcome(scenario({"file": str(path)}), tmp_path / "runs", path.name, "population")


parquet_columns = st.dictionaries(
    st.sampled_from(["name", "bio", "stance", "description", "age", "following", "x"]),
    st.sampled_from(["int", "float", "text", "bytes", "list", "null", "bool"]),
    min_size=1, max_size=4,
)


def parquet_table(kinds: dict[str, str], rows: int) -> pa.Table:
    values = {"int": lambda i: i, "float": lambda i: i / 3 if i % 2 else float("nan"),
              "text": lambda i: f"<b>{i}</b>'; DROP TABLE users;--", "bytes": lambda i: b"\xff\xfe" * i,
              "list": lambda i: list(range(i)), "null": lambda i: None, "bool": lambda i: i % 2 == 0}
    return pa.table({name: pa.array([values[kind](i) for i in range(rows)]) for name, kind in kinds.items()})


@FUZZ
@given(kinds=parquet_columns, rows=st.integers(0, 5), garbage=st.binary(max_size=64), broken=st.booleans())
def test_fuzzed_population_parquet_loads_or_fails_cleanly(tmp_path: Path, kinds: dict[str, str], rows: int,
                                                          garbage: bytes, broken: bool) -> None:
    path = tmp_path / f"f{next(_names)}.parquet"
    if broken:
        path.write_bytes(b"PAR1" + garbage)
    else:
        pq.write_table(parquet_table(kinds, rows), path)
    outcome(scenario({"file": str(path)}), tmp_path / "runs", path.name, "population")


def test_typical_bad_population_files_name_the_problem(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    cases = {
        b"": "Empty CSV", b"a,b\n": "has no rows", b"a,b\n1,2\n3\n": "Expected 2 columns",
        b"n\xffame,bio\nx,y\n": "column names are not valid UTF-8", b"name,stance\na,hello\n": "'hello' is not a number",
    }
    for data, problem in cases.items():
        path = fresh(tmp_path, ".csv", data)
        assert problem in outcome(scenario({"file": str(path)}), runs, path.name, "population")


def test_a_huge_field_loads_in_full(tmp_path: Path) -> None:
    path = fresh(tmp_path, ".csv", b"name,bio\nu0," + b"y" * 3_000_000 + b"\nu1,short\n")
    assert outcome(scenario({"file": str(path)}), tmp_path / "runs", path.name) == "ok"


# -- follow graphs ---------------------------------------------------------------------------------
list_item = st.one_of(st.integers(-3, 8), st.floats(allow_nan=True), st.text(max_size=4), st.none(), st.booleans(),
                      st.just([1]), st.integers(min_value=2**63))
follow_cell = st.one_of(
    st.lists(list_item, max_size=4).map(repr),
    st.text(max_size=12),
    st.sampled_from(["", "[]", "[1,", "{1, 2}", "nan", "[[1]]", "[1e400]"]),
)


@FUZZ
@given(cells=st.lists(follow_cell, min_size=6, max_size=6))
def test_fuzzed_follow_list_column_loads_or_fails_cleanly(tmp_path: Path, cells: list[str]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "following"])
    writer.writerows([f"u{i}", cell] for i, cell in enumerate(cells))
    path = fresh(tmp_path, ".csv", out.getvalue().encode("utf-8", "surrogatepass"))
    spec = scenario({"file": str(path)}, follows={"kind": "column", "column": "following"})
    outcome(spec, tmp_path / "runs", "world.params.follows", path.name, "population")


edge_cell = st.one_of(st.integers(-2, 8).map(str), st.sampled_from(["", "x", "0.5", "1e30", "nan", "99999999999999999999"]))
table_rows = st.lists(st.lists(edge_cell, min_size=1, max_size=3), max_size=5)


def table_bytes(header: str, rows: list[list[str]]) -> bytes:
    return (header + "\n" + "\n".join(",".join(r) for r in rows)).encode()


@FUZZ
@given(header=st.sampled_from(["follower,followee", "follower", "followee,follower,weight", "a,b"]), rows=table_rows,
       parquet=st.booleans())
def test_fuzzed_follow_file_loads_or_fails_cleanly(tmp_path: Path, header: str, rows: list[list[str]],
                                                   parquet: bool) -> None:
    users = fresh(tmp_path, ".csv", USERS.encode())
    path = fresh(tmp_path, ".csv", table_bytes(header, rows))
    if parquet:  # the same table as Parquet, every column as text
        columns = header.split(",")
        data = {c: [r[j] if j < len(r) else None for r in rows] for j, c in enumerate(columns)}
        path = tmp_path / f"f{next(_names)}.parquet"
        pq.write_table(pa.table(data), path)
    spec = scenario({"file": str(users)}, follows={"kind": "file", "path": str(path)})
    outcome(spec, tmp_path / "runs", "world.params.follows", path.name)


def test_follow_errors_name_the_bad_value(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    users = fresh(tmp_path, ".csv", b'name,following\nu0,"[1, \'x\']"\nu1,"[0]"\n')
    spec = scenario({"file": str(users)}, follows={"kind": "column", "column": "following"})
    assert "'x' is not a number" in outcome(spec, runs, "world.params.follows.column")
    users = fresh(tmp_path, ".csv", b'name,following\nu0,"[1.5]"\nu1,"[0]"\n')
    assert "1.5 is not a whole number" in outcome(
        scenario({"file": str(users)}, follows={"kind": "column", "column": "following"}), runs, "following")
    edges = fresh(tmp_path, ".csv", b"follower,followee\n0,\n")
    users = fresh(tmp_path, ".csv", USERS.encode())
    message = outcome(scenario({"file": str(users)}, follows={"kind": "file", "path": str(edges)}), runs, "followee")
    assert "None is not a number" in message


# -- injected-post files ---------------------------------------------------------------------------
post_cell = st.one_of(edge_cell, st.text(max_size=20).filter(lambda t: "," not in t and "\n" not in t and "\r" not in t))


@FUZZ
@given(header=st.sampled_from(["author,content", "author,content,step", "author,content,step,topic,stance",
                               "content", "author,content,stance"]),
       rows=st.lists(st.lists(post_cell, min_size=1, max_size=5), max_size=5))
def test_fuzzed_posts_file_loads_or_fails_cleanly(tmp_path: Path, header: str, rows: list[list[str]]) -> None:
    users = fresh(tmp_path, ".csv", USERS.encode())
    path = fresh(tmp_path, ".csv", table_bytes(header, rows).decode().encode("utf-8", "surrogatepass"))
    outcome(scenario({"file": str(users)}, posts_file=str(path)), tmp_path / "runs", "world.params.posts_file",
            path.name)


def test_posts_file_errors_name_the_column(tmp_path: Path) -> None:
    users = fresh(tmp_path, ".csv", USERS.encode())
    for body, problem in [(b"author,content\nx,hi\n", "column author: 'x' is not a number"),
                          (b"author,content,step\n0,hi,1e30\n", "column step: 1e+30 is not a whole number"),
                          (b"author,content,stance\n0,hi,left\n", "column stance: 'left' is not a number"),
                          (b"author,content\n9,hi\n", "author ids must be users 0..5")]:
        path = fresh(tmp_path, ".csv", body)
        assert problem in outcome(scenario({"file": str(users)}, posts_file=str(path)), tmp_path / "runs",
                                  "world.params.posts_file")


# -- the command line ------------------------------------------------------------------------------
def populace(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "populace", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def test_cli_prints_one_line_for_bad_input_files(tmp_path: Path) -> None:
    users = fresh(tmp_path, ".csv", USERS.encode())
    bad_population = fresh(tmp_path, ".csv", b"a,b\n1,2\n3\n")
    bad_follows = fresh(tmp_path, ".csv", b"follower,followee\na,b\n")
    bad_posts = fresh(tmp_path, ".parquet", b"PAR1 not parquet")
    cases = [
        (scenario({"file": str(bad_population)}), bad_population.name),
        (scenario({"file": str(users)}, follows={"kind": "file", "path": str(bad_follows)}), "'a' is not a number"),
        (scenario({"file": str(users)}, posts_file=str(bad_posts)), bad_posts.name),
    ]
    for spec, problem in cases:
        path = tmp_path / f"s{next(_names)}.yaml"
        path.write_text(yaml.safe_dump(spec))
        done = populace("run", str(path), "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and problem in lines[0], done.stderr
        assert "Traceback" not in done.stderr + done.stdout


# -- intervention arguments: what validate passes, the run applies ------------------------------
arg_values = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(), st.text(max_size=8),
                       st.sampled_from(["high", "0.5", "1e400", ".nan", "[]"]), st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@FUZZ
@given(args=st.dictionaries(st.sampled_from(["value", "share", "valeu", "rate"]), arg_values, max_size=3))
def test_fuzzed_intervention_arguments_fail_at_load_or_run(tmp_path: Path, args: dict[str, Any]) -> None:
    """Before arguments were typed, broadcast with value 'high' passed validate and the run died of a TypeError."""
    spec = {"name": "bad-args", "steps": 2, "population": {"size": 20}, "world": {"type": "opinion"},
            "minds": [{"select": "all", "type": "rules", "policy": "bounded_confidence"}],
            "interventions": [{"at": "1h", "call": "broadcast", "args": args}]}
    try:
        scenario_ = load_scenario(spec)
    except PopulaceError as exc:
        assert all(line.startswith("scenario: interventions.0.args.") for line in str(exc).split("\n")), str(exc)
        return
    Simulation(scenario_).run()  # any other exception fails the test


@pytest.fixture
def full_disk(tmp_path: Path) -> Any:
    """A 64 KiB tmpfs, filled to the last byte (needs root to mount; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        with open("/dev/zero", "rb") as zero:
            subprocess.run(["head", "-c", "1000000"], stdin=zero, stdout=(mount / "filler").open("wb"),
                           stderr=subprocess.DEVNULL)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_at_start_up_is_a_clean_error(full_disk: Path, tmp_path: Path) -> None:
    done = populace("run", "wealth", "--set", "steps=2", "--runs-dir", str(full_disk / "runs"), cwd=tmp_path)
    assert done.returncode == 2
    assert "No space left on device" in done.stderr and "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.strip()]) == 1


def test_a_disk_that_fills_during_the_run_is_a_clean_error(full_disk: Path, tmp_path: Path) -> None:
    (full_disk / "filler").write_bytes(b"\0" * (40 << 10))  # leave ~24 KiB: the run directory fits, the trace not
    done = populace("run", "wealth", "--set", "steps=30", "--runs-dir", str(full_disk / "runs"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "No space left on device" in done.stderr and "Traceback" not in done.stderr

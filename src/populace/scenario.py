"""Scenario files: YAML validated against a typed schema, with one-line errors.

An error names the field, the bad value and what is accepted, e.g.::

    wealth.yaml: schedule.order: 'random' is not accepted; expected 'simultaneous' or 'sequential'
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticSerializationError

from populace.clock import Clock, Duration, Instant, duration_text, instant_text
from populace.datafiles import data_path, scenarios_dir
from populace.errors import PopulaceError, PopulationError, ScenarioError, UnknownNameError
from populace.parameters import signature_params, validate_params
from populace.persona import KINDS as DISTRIBUTION_KINDS
from populace.persona import Distribution
from populace.plugins import load_plugins

if TYPE_CHECKING:
    import numpy as np

    from populace.minds.base import MindConfig
    from populace.population import Population
    from populace.world import Column, World


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PopulationSpec(_Strict):
    """Who the agents are: sampled from declared distributions, loaded from a file, or both."""

    size: int | None = Field(None, ge=1, description="number of agents (default: rows of `file`)")
    file: str | None = Field(None, description="CSV or Parquet file, one row per agent")
    attributes: dict[str, Distribution] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _size_or_file(self) -> PopulationSpec:
        if self.size is None and self.file is None:
            raise ValueError("give `size` or `file`")
        return self


class ClockSpec(_Strict):
    start: datetime = datetime(2025, 1, 1, 8, 0)
    step: Duration = Field(timedelta(hours=1), description="simulated time per step, e.g. 3m, 1h, 1d",
                           json_schema_extra={"default": "1h"})

    def clock(self) -> Clock:
        return Clock(self.start, self.step)


class ScheduleSpec(_Strict):
    activity: str | list[float] = Field(
        "always", description="24 rates, one per hour of the day: sessions an agent has in that hour on average "
                              "(a Poisson process in simulated time); or a built-in profile: always (every step, "
                              "for rounds), steady (one an hour), diurnal"
    )
    order: Literal["simultaneous", "sequential"] = "simultaneous"
    batch: int = Field(1, ge=1, description="agents per observe/decide/apply turn when sequential")

    @field_validator("activity")
    @classmethod
    def _profile(cls, value: str | list[float]) -> str | list[float]:
        from populace.scheduler import PROFILES

        if isinstance(value, str) and value not in PROFILES:
            raise ValueError(f"unknown profile {value!r}; expected one of {', '.join(PROFILES)} or 24 numbers")
        if isinstance(value, list) and (len(value) != 24 or not all(0 <= v < math.inf for v in value)):
            raise ValueError("needs exactly 24 rates (sessions an hour), each 0 or more")
        return value


class WorldSpec(_Strict):
    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    actions: list[str] | None = Field(None, description="the actions available (default: all)")
    partitions: int = Field(1, ge=1, description="split a world that partitions into this many regions, "
                                                 "each stepped where the executor runs it (see scale-out docs)")


class FallbackSpec(BaseModel):
    """One step down a mind tier's fallback chain: a mind type and its own parameters (its agents
    are the tier's)."""

    model_config = ConfigDict(extra="allow")
    type: str

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MindSpec(BaseModel):
    """A mind tier for the agents a selector picks; other keys are the mind's own parameters."""

    model_config = ConfigDict(extra="allow")
    select: str = Field("all", description="'all' or a query over population columns")
    type: str = "rules"
    shards: int = Field(1, ge=1, description="split this mind by agent id into shards that run in parallel")
    fallback: list[FallbackSpec] = Field(
        default_factory=list, description="minds to decide with, in order, when this one's decision fails "
                                          "after its retries, and to step down to when the budget is spent "
                                          "(budget.on_exhausted: degrade)")

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class InterventionSpec(_Strict):
    """A world operation run at a moment of the run, given in simulated time (``at``) or, where a
    step index is meant whatever the step length, as ``at_step``."""

    at: Instant | None = Field(None, description="when the operation runs: simulated time from the start (0h, 6h, "
                                                  "90m) or a timestamp; at the start of the first step that "
                                                  "begins then or later")
    at_step: int | None = Field(None, ge=0, description="instead of at: the index of the step at whose start it runs")
    call: str = Field(description="a world operation")
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_moment(self) -> InterventionSpec:
        if self.at is not None and self.at_step is not None:
            raise ValueError("give at or at_step, not both")
        if self.at is None and self.at_step is None:
            raise ValueError("give when it runs: at (a time from the start, e.g. 6h, or a timestamp) or at_step "
                             "(a step index)")
        return self

    def step(self, clock: Clock) -> int:
        """The index of the step at whose start it runs (``at`` rounded up to a step; see :meth:`Clock.step_at`)."""
        if self.at_step is not None:
            return self.at_step
        assert self.at is not None
        return clock.step_at(self.at)

    def when(self) -> str:
        """When it runs, as the scenario says it (``6h``, a timestamp or ``step 6``)."""
        return f"step {self.at_step}" if self.at is None else instant_text(self.at)


class TraceSpec(_Strict):
    events: Literal["all", "rejected", "none"] = Field(
        "all", description="which agent events to store (step summaries are always stored)"
    )
    flush_every: int = Field(10, ge=1, description="steps between writes of buffered events")
    checkpoint_every: int = Field(50, ge=1, description="steps between resumable checkpoints")


class BudgetSpec(_Strict):
    """Caps on what a run spends, checked after every step (see :mod:`populace.budget`)."""

    calls: int | None = Field(None, ge=1, description="model calls (answers from the response cache are free)")
    tokens: int | None = Field(None, ge=1, description="model tokens, prompts and answers together")
    model_seconds: float | None = Field(None, gt=0, description="seconds spent in model calls, summed over "
                                                                "calls made at once")
    wall_seconds: float | None = Field(None, gt=0, description="wall-clock seconds of the run's steps")
    on_exhausted: Literal["stop", "degrade"] = Field(
        "stop", description="stop: stop at a checkpoint, resumable with a larger budget; degrade: step each "
                            "model mind down its fallback chain to a mind that asks no model")

    @model_validator(mode="after")
    def _some_limit(self) -> BudgetSpec:
        if all(getattr(self, name) is None for name in BUDGET_LIMITS):
            raise ValueError(f"give at least one limit: {', '.join(BUDGET_LIMITS)}")
        return self


#: The limits a budget may set, in the order they are checked.
BUDGET_LIMITS = ("calls", "tokens", "model_seconds", "wall_seconds")


class ObservedSpec(_Strict):
    """Observed series the run is compared with in its report (what a calibration fitted, say)."""

    file: str = Field(description="CSV of observed values on simulated time (relative to the scenario, or built in)")
    metrics: dict[str, str] = Field(min_length=1, description="the run's metric -> the file's column holding it")
    time_column: str | None = Field(None, description="the file's time column (default: its first)")
    time_unit: str | None = Field(None, description="its unit where its name does not say (e.g. 1m)")
    fitted: Duration | None = Field(None, description="rows up to this simulated time were fitted; later "
                                                      "ones are held out (default: every row was fitted)")


class Scenario(_Strict):
    """A complete, validated description of one simulation."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    seed: int = Field(0, ge=0)
    steps: int = Field(ge=1)
    clock: ClockSpec = Field(default_factory=ClockSpec)
    population: PopulationSpec
    world: WorldSpec
    minds: list[MindSpec] = Field(min_length=1)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    model: dict[str, Any] = Field(
        default_factory=dict, description="default language model for model-driven minds (backend, ...)"
    )
    interventions: list[InterventionSpec] = Field(default_factory=list)
    trace: TraceSpec = Field(default_factory=TraceSpec)
    budget: BudgetSpec | None = Field(None, description="caps on model calls, tokens and time (default: none)")
    observed: ObservedSpec | None = Field(None, description="observed series the report compares the run with")
    plugins: list[str] = Field(
        default_factory=list, description="modules or .py files (relative to the scenario file) to import "
                                          "first: they register your own worlds, minds and policies")

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """Lines worth saying before the run that do not stop it (see :func:`load_scenario`)."""
        return list(self._warnings)

    @property
    def base_dir(self) -> Path:
        """Directory that relative paths in the scenario are resolved against."""
        return self._base_dir

    def resolve(self, path: str) -> Path:
        """A data path of the scenario (see :func:`data_path`)."""
        return data_path(path, self._base_dir)

    def to_yaml(self) -> str:
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: long texts dump in ms, not seconds
        return yaml.dump(json.loads(self.model_dump_json()), Dumper=dumper, sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------------------------------------
def builtin_scenarios() -> dict[str, Path]:
    directory = scenarios_dir()
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))} if directory.is_dir() else {}


def load_scenario(source: str | Path | Mapping[str, Any], overrides: Iterable[str] = (), *,
                  recorded: bool = False) -> Scenario:
    """Load and fully validate a scenario from a built-in name, a YAML file or a mapping.

    ``overrides`` are ``dotted.key=value`` strings (values parsed as YAML), applied before
    validation. Raises :class:`ScenarioError` listing every problem found, one line each (schema
    problems first; the checks against the registries run once the schema holds).

    An intervention at or after the last step never runs: an error, unless ``--set steps=N``
    shortened the run past it, which is a warning (:attr:`Scenario.warnings`). ``recorded``: the
    scenario a run stored, accepted when it started, so such interventions pass silently (a fork
    may lengthen the run).
    """
    label, base, data = _read(source)
    overrides = list(overrides)
    for item in overrides:
        _override(data, item, label)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _error(label, _lines(exc, model=Scenario)) from None
    try:  # a run stores its scenario as UTF-8: text must be encodable (no lone surrogates)
        scenario.model_dump_json()
    except PydanticSerializationError:
        raise ScenarioError(f"{label}: holds text that is not valid Unicode (a lone surrogate)") from None
    scenario._base_dir = base
    try:
        load_plugins(scenario.plugins, scenario.base_dir)
    except ScenarioError as exc:
        raise _error(label, [str(exc)]) from None
    problems = [*_name_problems(scenario), *_model_problems(scenario), *_shadow_problems(scenario),
                *_budget_problems(scenario), *_early_interventions(scenario), *_observed_problems(scenario, recorded)]
    late = [] if recorded else _late_interventions(scenario)
    if any(item.partition("=")[0].strip() == "steps" for item in overrides):
        scenario._warnings = [_flat(f"{label}: {line}") for line in late]
    else:
        problems += late
    if problems:
        raise _error(label, problems)
    return scenario


def _error(label: str, problems: Iterable[str]) -> ScenarioError:
    """One error listing every problem, one line each, each naming the scenario."""
    lines = dict.fromkeys(_flat(f"{label}: {problem}") for problem in problems)
    return ScenarioError("\n".join(lines))


def _flat(message: str) -> str:
    """Keep an error on one line whatever the file contained."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def _read(source: str | Path | Mapping[str, Any]) -> tuple[str, Path, dict[str, Any]]:
    if isinstance(source, Mapping):
        return "scenario", Path.cwd(), json.loads(json.dumps(dict(source), default=str))
    builtin = builtin_scenarios()
    path = Path(source)
    if not path.is_file():
        if str(source) in builtin:
            path = builtin[str(source)]
        elif path.suffix in (".yaml", ".yml") or os.sep in str(source):
            raise ScenarioError(f"scenario file {str(source)!r} does not exist")
        else:
            raise ScenarioError(str(UnknownNameError("scenario", str(source), builtin)))
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise ScenarioError(f"{path.name}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ScenarioError(f"{path.name}: not valid YAML{where}: {problem}") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path.name}: a scenario must be a mapping of fields, got {type(data).__name__}")
    return path.name, path.resolve().parent, data


def _override(data: dict[str, Any], item: str, label: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ScenarioError(f"override {item!r} must look like key.path=value")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    node: Any = data
    parts = key.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f"{label}: override {key!r}: no list item {part!r}")
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
        if not isinstance(node, dict | list):
            raise ScenarioError(f"{label}: override {key!r}: {part!r} is not a mapping")
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ScenarioError(f"{label}: override {key!r}: no list item {last!r}")
        node[int(last)] = value
    else:
        node[last] = value


def _lines(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> list[str]:
    """Every error as one line; ``model`` (what was validated) lets an unknown field name the
    closest known one. A required field that is missing beside an unknown one spelt like it is
    one line about the misspelling."""
    errors = exc.errors(include_url=False)
    unknown: dict[tuple[Any, ...], list[str]] = {}
    for error in errors:
        if error["type"] in ("extra_forbidden", "unknown_parameter"):
            unknown.setdefault(tuple(error["loc"][:-1]), []).append(str(error["loc"][-1]))
    misspelt: dict[tuple[Any, ...], str] = {}  # the location of an unknown key -> the required field it misspells
    merged: set[tuple[Any, ...]] = set()  # missing fields said by their misspelling's line
    for error in errors:
        if error["type"] == "missing":
            parent, name = tuple(error["loc"][:-1]), str(error["loc"][-1])
            close = difflib.get_close_matches(name, unknown.get(parent, []), n=1)
            if close:
                misspelt[(*parent, close[0])] = name
                merged.add(tuple(error["loc"]))
    lines = []
    for error in errors:
        loc = tuple(error["loc"])
        if loc in merged:
            continue
        if loc in misspelt and error["type"] == "extra_forbidden":
            lines.append(f"{_location(loc, prefix)}: unknown field; did you mean {misspelt[loc]!r}? (a required field)")
        elif loc in misspelt:  # a parameter's line already names the closest one and the accepted ones
            lines.append(f"{_line(error, prefix, model)}; {misspelt[loc]!r} is required")
        else:
            lines.append(_line(error, prefix, model))
    return lines


def _location(parts: Iterable[Any], prefix: str) -> str:
    loc = ".".join(_name(p) for p in parts if not _is_union_tag(p))
    return f"{prefix}{loc}" if loc else prefix.rstrip(".") or "(top level)"


def _line(error: Any, prefix: str, model: type[BaseModel] | None) -> str:
    """One validation error as one line naming the field, the bad value and what is accepted."""
    loc = _location(error["loc"], prefix)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{loc}: required field is missing"
    if error["type"] == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return f"{loc}.{ctx.get('discriminator', 'type').strip(chr(39))}: {ctx.get('tag')!r} is not accepted; " \
            f"expected one of {ctx.get('expected_tags')}"
    if error["type"] == "extra_forbidden":
        known = _fields_at(model, error["loc"][:-1])
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{loc}: unknown field{hint} (check the spelling; see `populace schema`)"
    if error["type"] == "unknown_parameter":  # a policy's or an operation's parameter (see populace.parameters)
        return f"{loc}: {message}"
    value = error.get("input")
    if isinstance(value, dict | list):
        return f"{loc}: {message}"
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{loc}: {shown} is not accepted: {message}"


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``loc`` inside ``model``; [] where there is none."""
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):  # an item of a list of models
            continue
        field = model.model_fields.get(str(part))
        model = _model_in(field.annotation) if field is not None else None
    return sorted(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds (``Model``, ``Model | None``, ``list[Model]``), if exactly one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    found = {m for m in map(_model_in, get_args(annotation)) if m is not None}
    return found.pop() if len(found) == 1 else None


def _name(part: Any) -> str:
    """A location part as typed, or quoted when it holds odd characters (a fuzzed key, a newline)."""
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else repr(text)


def _is_union_tag(part: Any) -> bool:
    """A ``dist`` name pydantic puts in an error's location (it is not a field the user wrote)."""
    return isinstance(part, str) and part in DISTRIBUTION_KINDS


def check_partitions(scenario: Scenario, world_cls: type) -> None:
    """A partitioned world must be one that partitions, and its minds are split by region, not sharded."""
    problems = _partition_problems(scenario, world_cls)
    if problems:
        raise ScenarioError("\n".join(problems))


def _partition_problems(scenario: Scenario, world_cls: type) -> list[str]:
    from populace.regions import RegionalWorld, regional_worlds

    if scenario.world.partitions == 1:
        return []
    if not issubclass(world_cls, RegionalWorld):
        return [f"world.partitions: the {scenario.world.type!r} world is global and cannot be "
                f"partitioned; worlds that partition: {', '.join(regional_worlds())}"]
    return [f"minds.{i}.shards: a partitioned world already splits minds by region; drop shards"
            for i, spec in enumerate(scenario.minds) if spec.shards > 1]


def check_names(scenario: Scenario) -> None:
    """Check the names and parameters that only the registries know: world, minds, operations
    (every problem, one line each)."""
    problems = _name_problems(scenario)
    if problems:
        raise ScenarioError("\n".join(problems))


def _observed_problems(scenario: Scenario, recorded: bool = False) -> list[str]:
    """The observed series' file exists (not checked for a run's stored copy, whose relative paths
    resolve from where the run was started), and each metric it names is one the world reports."""
    spec = scenario.observed
    if spec is None:
        return []
    problems = []
    if not recorded and not scenario.resolve(spec.file).is_file():
        problems.append(f"observed.file: {spec.file!r} does not exist")
    from populace.world import worlds

    try:
        reported = worlds.get(scenario.world.type).metric_descriptions
    except UnknownNameError:
        return problems
    problems += [f"observed.metrics.{name}: the {scenario.world.type!r} world reports no metric {name!r} "
                 f"(its metrics: {', '.join(reported)})" for name in spec.metrics if reported and name not in reported]
    return problems


def _name_problems(scenario: Scenario) -> list[str]:
    from populace.world import worlds

    try:
        world_cls = worlds.get(scenario.world.type)
    except UnknownNameError as exc:
        return [f"world.type: {exc}", *_mind_problems(scenario)]
    problems = []
    observed: dict[str, Column] = {}  # what the world declares it observes; empty: undeclared (or bad params)
    try:
        config = world_cls.Config.model_validate(scenario.world.params)
        observed = {column.name: column for column in world_cls.observation_columns(config)}
    except ValidationError as exc:
        problems += _lines(exc, "world.params.", world_cls.Config)
    except PopulaceError as exc:  # a world's own check, e.g. an unknown recommender
        problems.append(f"world.params: {exc}")
    problems += [f"world.actions: {UnknownNameError('action', name, world_cls.actions.names)}"
                 for name in scenario.world.actions or [] if name not in world_cls.actions]
    problems += _partition_problems(scenario, world_cls)
    if world_cls.step_length is not None and scenario.clock.step != world_cls.step_length:
        length = duration_text(world_cls.step_length)
        problems.append(f"clock.step: the {scenario.world.type!r} world steps {length} at a time "
                        f"(its rates are per step); got {duration_text(scenario.clock.step)}")
    return [*problems, *_mind_problems(scenario, scenario.world.type, observed),
            *_intervention_problems(scenario, world_cls)]


def _mind_problems(scenario: Scenario, world: str | None = None,
                   observed: Mapping[str, Column] | None = None) -> list[str]:
    problems = []
    for i, spec in enumerate(scenario.minds):
        problems += _one_mind_problems(spec, f"minds.{i}", world, observed)
        for j, step_down in enumerate(spec.fallback):
            problems += _one_mind_problems(step_down, f"minds.{i}.fallback.{j}", world, observed)
    return problems


def _one_mind_problems(spec: MindSpec | FallbackSpec, where: str, world: str | None = None,
                       observed: Mapping[str, Column] | None = None) -> list[str]:
    """A mind's type and parameters, each problem one line under ``where`` (``minds.0``); with the
    ``world`` known, what the mind reads that the world does not observe (``observed``, its declared
    columns)."""
    from populace.minds import minds

    try:
        mind_cls = minds.get(spec.type)
        config = mind_cls.Config.model_validate(spec.params())
    except UnknownNameError as exc:
        field = "type" if exc.kind == "mind" else exc.kind
        return [f"{where}.{field}: {exc}"]
    except ValidationError as exc:
        return _lines(exc, f"{where}.", mind_cls.Config)
    except PopulaceError as exc:  # e.g. an unknown policy named in the params
        return [f"{where}: {exc}"]
    return [] if world is None else _reads_problems(config, where, world, observed or {})


def _reads_problems(config: MindConfig, where: str, world: str, observed: Mapping[str, Column]) -> list[str]:
    """A rules policy written for other worlds, and every observation column the mind's parameters
    name (a policy's ``reads``, a template's ``{obs.<col>}``) that the world does not observe: one
    line per field. Nothing is checked against a world that declares no observation."""
    from populace.minds.rules import RulesConfig
    from populace.policy import policy_worlds

    problems = []
    if isinstance(config, RulesConfig) and (written_for := policy_worlds(config.policy)) and world not in written_for:
        problems.append(f"{where}.policy: {config.policy!r} is written for the "
                        f"{' and '.join(repr(w) for w in written_for)} world{'s' * (len(written_for) > 1)}, "
                        f"not {world!r}")
    if not observed:
        return problems
    try:
        reads = config.observation_reads(observed)
    except (PopulaceError, ValidationError):  # a nested mind's own problem, said where it is validated
        return problems
    for read in reads:
        missing = [column for column in dict.fromkeys(read.columns) if column not in observed]
        if missing:
            problems.append(f"{where}.{read.field}: {read.what} reads {', '.join(missing)}, "
                            f"which world {world!r} does not observe")
    return problems


def asks_model(mind_type: str) -> bool:
    """Whether minds of this registered type ask a language model (False for an unknown type)."""
    from populace.minds import minds
    from populace.minds.language import LanguageMind

    try:
        return issubclass(minds.get(mind_type), LanguageMind)
    except UnknownNameError:
        return False


def _budget_problems(scenario: Scenario) -> list[str]:
    """``on_exhausted: degrade`` needs somewhere to step down to: every mind tier that asks a model
    declares a fallback that does not, and the world is whole (a region's minds are not stepped down)."""
    budget = scenario.budget
    if budget is None or budget.on_exhausted != "degrade":
        return []
    asking = [i for i, spec in enumerate(scenario.minds) if asks_model(spec.type)]
    if not asking:
        return ["budget.on_exhausted: degrade: no mind asks a model, so there is nothing to step down; use stop"]
    problems = [f"minds.{i}.fallback: budget.on_exhausted is degrade, but this {scenario.minds[i].type} mind "
                "declares no fallback that asks no model (e.g. fallback: [{type: rules, policy: ...}])"
                for i in asking if all(asks_model(f.type) for f in scenario.minds[i].fallback)]
    if scenario.world.partitions > 1:
        problems.append("budget.on_exhausted: degrade is not available in a partitioned world; use stop")
    return problems


def _intervention_problems(scenario: Scenario, world_cls: type[World]) -> list[str]:
    """Each intervention names an operation of the world and gives it arguments of its types; the
    arguments are kept as those types (``value: "0.5"`` runs as 0.5)."""
    ops = world_cls.operations()
    problems = []
    for i, iv in enumerate(scenario.interventions):
        if iv.call not in ops:
            problems.append(f"interventions.{i}.call: {UnknownNameError('operation', iv.call, ops)}")
            continue
        try:
            args = validate_params(signature_params(ops[iv.call]), iv.args)
        except ValidationError as exc:
            problems += _lines(exc, f"interventions.{i}.args.")
            continue
        iv.args = {key: getattr(args, key) for key in iv.args}
    return problems


def _early_interventions(scenario: Scenario) -> list[str]:
    """Interventions timed before the run starts."""
    clock, problems = scenario.clock.clock(), []
    for i, iv in enumerate(scenario.interventions):
        try:
            iv.step(clock)
        except ValueError as exc:
            problems.append(f"interventions.{i}.at: {exc}")
    return problems


def _late_interventions(scenario: Scenario) -> list[str]:
    """Interventions at or after the last step: they would never run."""
    last, clock, problems = scenario.steps - 1, scenario.clock.clock(), []
    for i, iv in enumerate(scenario.interventions):
        try:
            step = iv.step(clock)
        except ValueError:
            continue  # said by _early_interventions
        if step > last:
            field = "at" if iv.at is not None else "at_step"
            at = "" if iv.at is None else f" (step {step} at {duration_text(clock.step)} steps)"
            problems.append(f"interventions.{i}.{field}: {iv.call!r} at {iv.when()}{at} never runs: the run's last "
                            f"step is {last} (steps: {scenario.steps})")
    return problems


def _shadow_problems(scenario: Scenario) -> list[str]:
    """A mind after one that selects ``all`` never gets an agent (each agent goes to the first mind
    whose selector picks it)."""
    first = next((i for i, spec in enumerate(scenario.minds) if spec.select.strip() == "all"), None)
    if first is None:
        return []
    return [f"minds.{i}: never runs: minds.{first} (select: all) takes every agent first; "
            f"put minds.{i} before it" for i in range(first + 1, len(scenario.minds))]


def unused_model_fields(spec: Mapping[str, Any], keys: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """``(field, why)`` for each field of a model spec (``keys`` of them; default all) that its
    backend does not use but another does: a setting that would be silently ignored. An unknown
    backend has none (its own line says it)."""
    from populace.llm.client import resolve_spec

    own = spec if keys is None else {key: spec[key] for key in keys if key in spec}
    try:
        return resolve_spec(own, spec)[2]
    except UnknownNameError:
        return []


def check_models(scenario: Scenario) -> None:
    """Validate the ``model:`` section, and each mind's own ``model:`` over it, whether or not a
    mind uses a model (a misspelled key must not wait for the first model call)."""
    problems = _model_problems(scenario)
    if problems:
        raise ScenarioError("\n".join(problems))


def _spec_problems(spec: Mapping[str, Any], defaults: Mapping[str, Any] | None, prefix: str) -> list[str]:
    """One line per bad field of ``spec`` (over ``defaults``), checked against its backend's ``Config``:
    an unknown backend, a field only other backends use, a bad value, an unknown field."""
    from populace.llm.client import resolve_spec

    try:
        backend, data, unused = resolve_spec(spec, defaults)
    except UnknownNameError as exc:
        return [f"{prefix}backend: {exc}"]
    problems = [f"{prefix}{key}: {why}; remove it, e.g. --set {prefix}{key}=null" for key, why in unused]
    try:
        backend.Config.model_validate(data)
    except ValidationError as exc:
        problems += _lines(exc, prefix, backend.Config)
    return problems


def _model_problems(scenario: Scenario) -> list[str]:
    problems = _spec_problems(scenario.model, None, "model.")
    # a mind's own model is merged over the top level's; the top level's problems are said once
    inherited = scenario.model if not problems else {k: v for k, v in scenario.model.items() if k == "backend"}
    unknown_backend = any(line.startswith("model.backend:") for line in problems)
    for i, spec in enumerate(scenario.minds):
        own = spec.params().get("model")
        if isinstance(own, Mapping) and ("backend" in own or not unknown_backend):
            problems += _spec_problems(own, inherited, f"minds.{i}.model.")
    return problems


def mind_masks(scenario: Scenario, population: Population) -> list[np.ndarray]:
    """Each mind tier's ``select`` as a mask over the built population (its columns are known
    only then). A bad selector is one line naming ``minds.N.select``; so is a selector whose agents
    all go to earlier minds (each agent goes to the first mind that selects it), naming them. A
    selector that picks no one (a small test population) and a fallback ``all`` are let be."""
    import numpy as np

    masks, problems = [], []
    for i, spec in enumerate(scenario.minds):
        try:
            masks.append(population.mask(spec.select))
        except PopulationError as exc:
            problems.append(f"minds.{i}.select: {exc}")
            masks.append(np.zeros(population.size, dtype=bool))
    for i, (spec, mask) in enumerate(zip(scenario.minds, masks, strict=True)):
        if i == 0 or spec.select.strip() == "all" or not mask.any():
            continue
        taken = np.logical_or.reduce(masks[:i])
        if (mask & ~taken).any():
            continue
        by = [f"minds.{j} (select: {scenario.minds[j].select!r})" for j in range(i) if (masks[j] & mask).any()]
        problems.append(f"minds.{i}.select: never runs: its {int(mask.sum())} agent(s) all go to "
                        f"{' and '.join(by)} first; put minds.{i} before them or narrow them")
    if problems:
        raise ScenarioError("\n".join(problems))
    return masks


def json_schema() -> dict[str, Any]:
    """The scenario schema as JSON Schema, for editors."""
    return Scenario.model_json_schema()

"""Scenario files: YAML validated against a typed schema, with one-line errors.

An error names the field, the bad value and what is accepted, e.g.::

    wealth.yaml: schedule.order: 'random' is not accepted; expected 'simultaneous' or 'sequential'
"""

from __future__ import annotations

import difflib
import inspect
import json
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

from populace.clock import Clock, parse_duration
from populace.errors import PopulaceError, PopulationError, ScenarioError, UnknownNameError
from populace.persona import KINDS as DISTRIBUTION_KINDS
from populace.persona import Distribution
from populace.plugins import load_plugins

if TYPE_CHECKING:
    import numpy as np

    from populace.population import Population


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
    step: str = Field("1h", description="simulated time per step, e.g. 3m, 1h, 1d")

    @field_validator("step")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    def clock(self) -> Clock:
        return Clock(self.start, parse_duration(self.step))


class ScheduleSpec(_Strict):
    activity: str | list[float] = Field(
        "always", description="24 hourly probabilities of acting, or a built-in profile name"
    )
    order: Literal["simultaneous", "sequential"] = "simultaneous"
    batch: int = Field(1, ge=1, description="agents per observe/decide/apply turn when sequential")

    @field_validator("activity")
    @classmethod
    def _profile(cls, value: str | list[float]) -> str | list[float]:
        from populace.scheduler import PROFILES

        if isinstance(value, str) and value not in PROFILES:
            raise ValueError(f"unknown profile {value!r}; expected one of {', '.join(PROFILES)} or 24 numbers")
        if isinstance(value, list) and (len(value) != 24 or not all(0 <= v <= 1 for v in value)):
            raise ValueError("needs exactly 24 probabilities between 0 and 1")
        return value


class WorldSpec(_Strict):
    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    actions: list[str] | None = Field(None, description="the actions available (default: all)")
    partitions: int = Field(1, ge=1, description="split a world that partitions into this many regions, "
                                                 "each stepped where the executor runs it (see scale-out docs)")


class MindSpec(BaseModel):
    """A mind tier for the agents a selector picks; other keys are the mind's own parameters."""

    model_config = ConfigDict(extra="allow")
    select: str = Field("all", description="'all' or a query over population columns")
    type: str = "rules"
    shards: int = Field(1, ge=1, description="split this mind by agent id into shards that run in parallel")

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class InterventionSpec(_Strict):
    at: int = Field(ge=0, description="step at whose start the operation runs")
    call: str = Field(description="a world operation")
    args: dict[str, Any] = Field(default_factory=dict)


class TraceSpec(_Strict):
    events: Literal["all", "rejected", "none"] = Field(
        "all", description="which agent events to store (step summaries are always stored)"
    )
    flush_every: int = Field(10, ge=1, description="steps between writes of buffered events")
    checkpoint_every: int = Field(50, ge=1, description="steps between resumable checkpoints")


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
    plugins: list[str] = Field(
        default_factory=list, description="modules or .py files (relative to the scenario file) to import "
                                          "first: they register your own worlds, minds and policies")

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

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
def scenarios_dir() -> Path:
    """Where the built-in scenarios live (packaged copy, else the source tree)."""
    env = os.environ.get("POPULACE_SCENARIOS")
    if env:
        return Path(env)
    packaged = Path(__file__).parent / "_scenarios"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "scenarios"


def data_path(path: str, base: Path | None = None) -> Path:
    """A data file named in a scenario: absolute, else relative to ``base`` (default: the working
    directory) where it exists there, else to the built-in scenarios folder where it exists there,
    else relative to ``base`` (so that the error names the path the user meant)."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    local = base / candidate if base is not None else candidate
    if local.exists():
        return local
    packaged = scenarios_dir() / candidate
    return packaged if packaged.exists() else local


def builtin_scenarios() -> dict[str, Path]:
    directory = scenarios_dir()
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))} if directory.is_dir() else {}


def load_scenario(source: str | Path | Mapping[str, Any], overrides: Iterable[str] = ()) -> Scenario:
    """Load and fully validate a scenario from a built-in name, a YAML file or a mapping.

    ``overrides`` are ``dotted.key=value`` strings (values parsed as YAML), applied before
    validation. Raises :class:`ScenarioError` with a one-line message.
    """
    label, base, data = _read(source)
    for item in overrides:
        _override(data, item, label)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_flat(f"{label}: {_one_line(exc, model=Scenario)}")) from None
    try:  # a run stores its scenario as UTF-8: text must be encodable (no lone surrogates)
        scenario.model_dump_json()
    except PydanticSerializationError:
        raise ScenarioError(f"{label}: holds text that is not valid Unicode (a lone surrogate)") from None
    scenario._base_dir = base
    try:
        load_plugins(scenario)
        check_names(scenario)
        check_models(scenario)
    except ScenarioError as exc:
        raise ScenarioError(_flat(f"{label}: {exc}")) from None
    return scenario


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


def _one_line(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """The first error as one line; ``model`` (what was validated) lets an unknown field name the
    closest known one."""
    error = exc.errors(include_url=False)[0]
    loc = ".".join(_name(p) for p in error["loc"] if not _is_union_tag(p))
    loc = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "(top level)"
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
    if error["type"] == "unknown_parameter":  # a rules policy's parameter (see populace.minds.rules)
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
    from populace.regions import RegionalWorld, regional_worlds

    if scenario.world.partitions == 1:
        return
    if not issubclass(world_cls, RegionalWorld):
        raise ScenarioError(f"world.partitions: the {scenario.world.type!r} world is global and cannot be "
                            f"partitioned; worlds that partition: {', '.join(regional_worlds())}")
    for i, spec in enumerate(scenario.minds):
        if spec.shards > 1:
            raise ScenarioError(f"minds.{i}.shards: a partitioned world already splits minds by region; drop shards")


def _duration_text(step: timedelta) -> str:
    """A clock step as a scenario writes it (1d, 1h, 30s)."""
    seconds = int(step.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_names(scenario: Scenario) -> None:
    """Check the names and parameters that only the registries know: world, minds, operations."""
    from populace.minds import minds
    from populace.world import worlds

    try:
        world_cls = worlds.get(scenario.world.type)
    except UnknownNameError as exc:
        raise ScenarioError(f"world.type: {exc}") from None
    try:
        world_cls.Config.model_validate(scenario.world.params)
    except ValidationError as exc:
        raise ScenarioError(_one_line(exc, "world.params.", world_cls.Config)) from None
    for name in scenario.world.actions or []:
        if name not in world_cls.actions:
            raise ScenarioError(f"world.actions: {UnknownNameError('action', name, world_cls.actions.names)}")
    check_partitions(scenario, world_cls)
    step = parse_duration(scenario.clock.step)
    if world_cls.step_length is not None and step != world_cls.step_length:
        length = _duration_text(world_cls.step_length)
        raise ScenarioError(f"clock.step: the {scenario.world.type!r} world steps {length} at a time "
                            f"(its rates are per step); got {scenario.clock.step}")
    for i, spec in enumerate(scenario.minds):
        try:
            mind_cls = minds.get(spec.type)
            mind_cls.Config.model_validate(spec.params())
        except UnknownNameError as exc:
            field = "type" if exc.kind == "mind" else exc.kind
            raise ScenarioError(f"minds.{i}.{field}: {exc}") from None
        except ValidationError as exc:
            raise ScenarioError(_one_line(exc, f"minds.{i}.", mind_cls.Config)) from None
        except PopulaceError as exc:  # e.g. an unknown policy named in the params
            raise ScenarioError(f"minds.{i}: {exc}") from None
    ops = world_cls.operations()
    for i, iv in enumerate(scenario.interventions):
        if iv.call not in ops:
            raise ScenarioError(f"interventions.{i}.call: {UnknownNameError('operation', iv.call, ops)}")
        try:
            inspect.signature(ops[iv.call]).bind(None, **iv.args)
        except TypeError as exc:
            raise ScenarioError(f"interventions.{i}.args: {exc}") from None


def check_models(scenario: Scenario) -> None:
    """Validate the ``model:`` section, and each mind's own ``model:`` over it, whether or not a
    mind uses a model (a misspelled key must not wait for the first model call)."""
    from populace.llm.client import ModelSpec

    try:
        ModelSpec.model_validate(scenario.model)
    except ValidationError as exc:
        raise ScenarioError(_one_line(exc, "model.", ModelSpec)) from None
    for i, spec in enumerate(scenario.minds):
        own = spec.params().get("model")
        if not isinstance(own, Mapping):
            continue
        try:
            ModelSpec.model_validate({**scenario.model, **own})
        except ValidationError as exc:
            raise ScenarioError(_one_line(exc, f"minds.{i}.model.", ModelSpec)) from None


def mind_masks(scenario: Scenario, population: Population) -> list[np.ndarray]:
    """Each mind tier's ``select`` as a mask over the built population (its columns are known
    only then); a bad selector is one line naming ``minds.N.select``."""
    masks = []
    for i, spec in enumerate(scenario.minds):
        try:
            masks.append(population.mask(spec.select))
        except PopulationError as exc:
            raise ScenarioError(f"minds.{i}.select: {exc}") from None
    return masks


def json_schema() -> dict[str, Any]:
    """The scenario schema as JSON Schema, for editors."""
    return Scenario.model_json_schema()

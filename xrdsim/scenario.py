"""Scenario files: YAML → a frozen ``Scenario`` (SimConfig, collector choice, expectations,
report options), by reflection over the dataclasses' fields; every mistake is one
``ScenarioError`` line naming file, line and key path (``x.yaml:12: sites[2].servers: …``).

Never simulates or scores; it only reads and checks. Schema: docs/scenarios.md.
"""

from __future__ import annotations

import dataclasses
import re
import datetime as dt
import difflib
import enum
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from collector import CollectorConfig
from xrdsim.errors import UserError
from xrdsim.score import KNOWN_METRICS, Expectation, parse_expectation
from xrdsim.score.formats import RecordFormat, Transform, Unit
from xrdsim.sim import ConfigError, MonitorConfig, SimConfig, check_config
from xrdsim.units import parser_for


class ScenarioError(UserError):
    """A mistake in a scenario file: ``file:line: key.path: what was expected, what was found``."""


class CollectorMode(enum.Enum):
    """How the harness runs the collector."""

    INPROCESS = "inprocess"
    UDP = "udp"
    EXTERNAL = "external"


class RecordSource(enum.Enum):
    """Where an external collector's records are read: the file ``{out}``, its stdout, or
    the AMQP exchange ``records_exchange``."""

    FILE = "file"
    STDOUT = "stdout"
    AMQP = "amqp"


class ReportFormat(enum.Enum):
    """Documents ``xrdsim run`` writes into the report directory."""

    JSON = "json"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    HTML = "html"


@dataclass(frozen=True, slots=True)
class CollectorChoice:
    """Which collector scores: the reference one in process (default), the reference one
    behind real UDP on loopback (``speed`` simulated seconds per wall second, 0 = no pacing),
    or an ``external`` command (``{host}``, ``{port}``, ``{summary_port}``, ``{out}``,
    ``{metrics_port}``, ``{workdir}`` and ``${ENV}`` are substituted) fed over UDP from one
    loopback address per server (``xrdsim.external``). Its records are read from ``records``
    (``{out}``, its stdout, or the AMQP exchange ``records_exchange`` at ``records_amqp``)
    through a record adapter: the preset of ``format`` (``osg``, ``wlcg``, ``ours``) with
    ``fields`` (our name → theirs), ``units`` and ``transforms`` laid over it, and other
    presets chosen by the value of ``layout_field`` (``layouts``). ``loss_url`` names its
    Prometheus endpoint, whose ``loss_metric`` per ``loss_label`` is its loss estimate.
    ``startup_s`` bounds the wait for its port, ``grace_s`` the wait for it to go quiet
    (``quiet_s`` without output once it consumed every datagram), ``stop_s`` the wait after
    SIGTERM."""

    mode: CollectorMode = CollectorMode.INPROCESS
    speed: float = 0.0
    command: str = ""
    format: RecordFormat = RecordFormat.OURS
    fields: dict[str, str] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    transforms: dict[str, Transform] = field(default_factory=dict)
    layout_field: str = ""
    layouts: dict[str, RecordFormat] = field(default_factory=dict)
    records: RecordSource = RecordSource.FILE
    records_amqp: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    records_exchange: str = ""
    port: int = 0
    loss_url: str = ""
    loss_metric: str = "missing_packets"
    loss_label: str = "host"
    startup_s: float = 10.0
    grace_s: float = 30.0
    quiet_s: float = 1.0
    stop_s: float = 10.0
    config: CollectorConfig = field(default_factory=CollectorConfig)


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """What to write: formats, plots, the time bin of volume comparisons, the directory."""

    formats: list[ReportFormat] = field(default_factory=lambda: list(ReportFormat))
    plots: bool = True
    bin_s: float = 600.0
    out: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A loaded scenario; ``description`` is the comment block at the top of the file."""

    name: str
    seed: int
    sim: SimConfig
    collector: CollectorChoice
    expect: dict[str, Expectation]
    report: ReportOptions
    source: str = ""
    description: str = ""


# ---------------------------------------------------------------- reflective building


class Builder:
    """Builds typed values from YAML nodes, raising ``ScenarioError`` with file and line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._scalars = yaml.constructor.SafeConstructor()

    def fail(self, node: Node, path: str, message: str) -> ScenarioError:
        """The error for ``node`` at key ``path``."""
        where = f"{self.file}:{node.start_mark.line + 1}"
        return ScenarioError(f"{where}: {path}: {message}" if path else f"{where}: {message}")

    def scalar(self, node: Node) -> Any:
        """The Python value of a scalar node (int, float, bool, str, None, datetime)."""
        try:
            return self._scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:  # an explicit tag (!!python/…) or a malformed timestamp
            raise self.fail(node, "", f"cannot read {node.tag!r}: {getattr(exc, 'problem', None) or exc}") from None

    def build(self, tp: Any, node: Node, path: str, name: str = "", base: Any = None) -> Any:
        """A value of type ``tp`` from ``node``; ``base`` supplies unset dataclass fields."""
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            return self._union(tp, node, path, name, base)
        if dataclasses.is_dataclass(tp):
            return self.dataclass(tp, node, path, base)
        if origin is list:
            return self._list(typing.get_args(tp)[0], node, path, name)
        if origin is dict:
            return self._dict(typing.get_args(tp)[1], node, path, name)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return self._enum(tp, node, path)
        return self._plain(tp, node, path, name)

    def _union(self, tp: Any, node: Node, path: str, name: str, base: Any) -> Any:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if isinstance(node, ScalarNode) and self.scalar(node) is None:
            return None
        return self.build(args[0], node, path, name, base)

    def _list(self, item: Any, node: Node, path: str, name: str) -> list:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, path, f"expected list, got {self.kind(node)}")
        return [self.build(item, n, f"{path}[{i}]", name) for i, n in enumerate(node.value)]

    def _dict(self, value: Any, node: Node, path: str, name: str) -> dict:
        pairs = self.pairs(node, path)
        return {key: self.build(value, v, f"{path}.{key}", name) for key, (_, v) in pairs.items()}

    def _enum(self, tp: type[enum.Enum], node: Node, path: str) -> enum.Enum:
        raw = self.scalar(node) if isinstance(node, ScalarNode) else None
        for member in tp:
            if str(raw).lower() in (str(member.value).lower(), member.name.lower()):
                return member
        accepted = ", ".join(str(m.value) for m in tp)
        raise self.fail(node, path, f"expected one of {accepted}, got {raw if raw is not None else self.kind(node)!r}")

    def _plain(self, tp: Any, node: Node, path: str, name: str) -> Any:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, path, f"expected {getattr(tp, '__name__', tp)}, got {self.kind(node)}")
        raw = self.scalar(node)
        convert = PLAIN.get(tp)
        if convert is None:
            return raw
        try:
            return convert(raw, node.value, name)
        except (TypeError, ValueError) as exc:
            raise self.fail(node, path, str(exc)) from None

    def pairs(self, node: Node, path: str) -> dict[str, tuple[Node, Node]]:
        """Key text → (key node, value node) of a mapping; duplicate keys are an error."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, path, f"expected mapping, got {self.kind(node)}")
        out: dict[str, tuple[Node, Node]] = {}
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, ScalarNode) else "?"  # the text: YAML 1.1 reads `on:` as True
            if key in out:
                raise self.fail(knode, join(path, key), "key given twice")
            out[key] = (knode, vnode)
        return out

    def dataclass(self, cls: type, node: Node, path: str, base: Any = None) -> Any:
        """An instance of ``cls`` from a mapping; unset fields come from ``base`` or defaults."""
        given = self.pairs(node, path)
        hints = _hints(cls)
        fields_ = {f.name: f for f in dataclasses.fields(cls)}
        for key, (knode, _) in given.items():
            if key not in fields_:
                raise self.fail(knode, join(path, key), unknown_key(key, fields_))
        values: dict[str, Any] = {}
        for fname, f in fields_.items():
            inner = getattr(base, fname) if base is not None else _default(f)
            if fname in given:
                nested = inner if dataclasses.is_dataclass(inner) else None
                values[fname] = self.build(hints[fname], given[fname][1], join(path, fname), fname, nested)
            elif inner is not dataclasses.MISSING:
                values[fname] = inner
            else:
                raise self.fail(node, path, f"missing required key {fname!r}")
        return cls(**values)

    @staticmethod
    def kind(node: Node) -> str:
        """What a node is, in the words of an error message."""
        if isinstance(node, MappingNode):
            return "mapping"
        if isinstance(node, SequenceNode):
            return "list"
        tag = node.tag.rsplit(":", 1)[-1]
        return {"null": "nothing", "timestamp": "date"}.get(tag, tag)


def join(path: str, key: str) -> str:
    """``a.b`` key paths (no leading dot at the top)."""
    return f"{path}.{key}" if path else key


def unknown_key(key: str, accepted: typing.Iterable[str]) -> str:
    """"unknown key, did you mean …?" with the closest accepted names."""
    names = sorted(accepted)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "accepted: " + ", ".join(names)
    return f"unknown key; {hint}"


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _number(raw: Any, text: str, name: str) -> float:
    if isinstance(raw, bool):
        raise TypeError(f"expected a number, got bool {text!r}")
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, dt.datetime):
        return raw.replace(tzinfo=raw.tzinfo or dt.UTC).timestamp()
    if isinstance(raw, dt.date):
        return dt.datetime(raw.year, raw.month, raw.day, tzinfo=dt.UTC).timestamp()
    if raw is None:
        raise ValueError("expected a number, got nothing")
    return parser_for(name)[1](str(raw))


def _integer(raw: Any, text: str, name: str) -> int:
    value = _number(raw, text, name)
    if value != int(value):
        raise ValueError(f"expected a whole number, got {text!r}")
    return int(value)


def _boolean(raw: Any, text: str, name: str) -> bool:
    if not isinstance(raw, bool):
        raise TypeError(f"expected true or false, got {text!r}")
    return raw


def _string(raw: Any, text: str, name: str) -> str:
    if raw is None or isinstance(raw, (dict, list)):
        raise ValueError(f"expected text, got {'nothing' if raw is None else type(raw).__name__}")
    return text


#: Scalar type → converter(python value, source text, field name).
PLAIN: dict[Any, Callable[[Any, str, str], Any]] = {float: _number, int: _integer, bool: _boolean, str: _string}


# ---------------------------------------------------------------- the scenario's top level

#: YAML key → SimConfig field, for keys that map one to one.
SIM_KEYS = {"seed": "seed", "duration": "duration_s", "start": "start_time", "step": "step_s",
            "workload": "workload", "nic": "nic", "path": "path", "faults": "faults"}  # fmt: skip
#: ``monitoring:`` keys that are SimConfig fields beside ``monitor``.
MONITORING_EXTRA = {"summary": "report", "dialect": "dialect"}
#: ``monitoring: {preset: …}`` → the MonitorConfig the given keys override.
PRESETS: dict[str, Callable[[], MonitorConfig]] = {"wlcg": lambda: SimConfig().monitor, "xrootd": MonitorConfig}
#: ``sites: {generate: …}`` key → SimConfig field.
GENERATE = {"count": "site_count", "servers": "servers_per_site"}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
TOP_KEYS = ("name", *SIM_KEYS, "sites", "monitoring", "collector", "expect", "report")


class ScenarioReader:
    """Reads one scenario document (see ``load_scenario``)."""

    def __init__(self, text: str, file: str) -> None:
        self.b = Builder(file)
        self.file = file
        try:
            self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ScenarioError(f"{file}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
        if self.root is None:
            raise ScenarioError(f"{file}: empty scenario")
        self.sim_hints = _hints(SimConfig)
        self.base = SimConfig()

    def read(self) -> Scenario:
        """The whole ``Scenario``."""
        top = self.b.pairs(self.root, "")
        for key, (knode, _) in top.items():
            if key not in TOP_KEYS:
                raise self.b.fail(knode, key, unknown_key(key, TOP_KEYS))
        sim_values = self._sim_values(top)
        sim = dataclasses.replace(self.base, **sim_values)
        try:
            check_config(sim)
        except ConfigError as exc:
            raise ScenarioError(f"{self.file}: {exc}") from None
        name = self.b.build(str, top["name"][1], "name") if "name" in top else Path(self.file).stem
        if not _NAME.fullmatch(name):  # it names the report folder: reports/NAME
            raise self.b.fail(top["name"][1] if "name" in top else self.root, "name",
                              f"expected letters, digits, '.', '_' or '-' (it names the report folder), got {name!r}")  # fmt: skip
        return Scenario(
            name, sim.seed, sim,
            self._part(CollectorChoice, top, "collector"),
            self._expect(top.get("expect")),
            self._part(ReportOptions, top, "report"),
            self.file, "",
        )  # fmt: skip

    def _sim(self, field_name: str, node: Node, path: str) -> Any:
        base = getattr(self.base, field_name)
        nested = base if dataclasses.is_dataclass(base) else None
        return self.b.build(self.sim_hints[field_name], node, path, field_name, nested)

    def _sim_values(self, top: dict[str, tuple[Node, Node]]) -> dict[str, Any]:
        values = {f: self._sim(f, top[k][1], k) for k, f in SIM_KEYS.items() if k in top}
        if "sites" in top:
            values.update(self._sites(top["sites"][1]))
        if "monitoring" in top:
            values.update(self._monitoring(top["monitoring"][1]))
        return values

    def _sites(self, node: Node) -> dict[str, Any]:
        if isinstance(node, SequenceNode):
            return {"sites": self._sim("sites", node, "sites")}
        if not isinstance(node, MappingNode):
            raise self.b.fail(node, "sites", f"expected a list of sites or {{generate: {{count: N}}}}, got {self.b.kind(node)}")
        pairs = self.b.pairs(node, "sites")
        if set(pairs) != {"generate"}:
            bad = next(iter(set(pairs) - {"generate"}), "")
            raise self.b.fail(pairs[bad][0] if bad else node, f"sites.{bad}" if bad else "sites",
                              "expected a list of sites or {generate: {count: N, servers: M}}")
        values: dict[str, Any] = {"sites": []}
        for key, (knode, vnode) in self.b.pairs(pairs["generate"][1], "sites.generate").items():
            if key not in GENERATE:
                raise self.b.fail(knode, f"sites.generate.{key}", unknown_key(key, GENERATE))
            values[GENERATE[key]] = self._sim(GENERATE[key], vnode, f"sites.generate.{key}")
        return values

    def _monitoring(self, node: Node) -> dict[str, Any]:
        pairs = self.b.pairs(node, "monitoring")
        values: dict[str, Any] = {}
        base = SimConfig().monitor
        if "preset" in pairs:
            knode, vnode = pairs.pop("preset")
            preset = str(self.b.scalar(vnode)) if isinstance(vnode, ScalarNode) else ""
            if preset not in PRESETS:
                raise self.b.fail(vnode, "monitoring.preset", f"expected one of {', '.join(PRESETS)}, got {preset!r}")
            base = PRESETS[preset]()
        for key, fname in MONITORING_EXTRA.items():
            if key in pairs:
                values[fname] = self._sim(fname, pairs.pop(key)[1], f"monitoring.{key}")
        rest = MappingNode(node.tag, [(k, v) for k, v in node.value if k.value in pairs], start_mark=node.start_mark)
        allowed = [f.name for f in dataclasses.fields(MonitorConfig)] + ["preset", *MONITORING_EXTRA]
        for key, (knode, _) in pairs.items():
            if key not in allowed:
                raise self.b.fail(knode, f"monitoring.{key}", unknown_key(key, allowed))
        values["monitor"] = self.b.dataclass(MonitorConfig, rest, "monitoring", base)
        return values

    def _part(self, cls: type, top: dict[str, tuple[Node, Node]], key: str) -> Any:
        return self.b.dataclass(cls, top[key][1], key) if key in top else cls()

    def _expect(self, pair: tuple[Node, Node] | None) -> dict[str, Expectation]:
        if pair is None:
            return {}
        out: dict[str, Expectation] = {}
        for key, (knode, vnode) in self.b.pairs(pair[1], "expect").items():
            if key not in KNOWN_METRICS:
                raise self.b.fail(knode, f"expect.{key}", "unknown metric; " + unknown_key(key, KNOWN_METRICS).split("; ")[1])
            try:
                out[key] = parse_expectation(vnode.value if isinstance(vnode, ScalarNode) else "?")
            except ValueError as exc:
                raise self.b.fail(vnode, f"expect.{key}", str(exc)) from None
        return out


def description_of(text: str) -> str:
    """The comment block at the top of a scenario file, without the ``#`` marks."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return "\n".join(lines).strip()


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """A ``Scenario`` from YAML text; ``file`` names it in error messages."""
    scenario = ScenarioReader(text, file).read()
    return dataclasses.replace(scenario, description=description_of(text))


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file.

    Raises ``ScenarioError`` (one line: ``file:line: key.path: expected …, got …``).

    >>> load_scenario("scenarios/quickstart.yaml").sim.duration_s > 0  # doctest: +SKIP
    True
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_scenario(text, str(path))


__all__ = [
    "CollectorChoice",
    "CollectorMode",
    "RecordSource",
    "ReportFormat",
    "ReportOptions",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
]

"""Load a plan from YAML, reporting every error as ``file:line:col`` with a fix.

PyYAML's composed node tree keeps the position of each key and value. We walk it
once to build a map from document path (``("agencies", "AUS.AFP", "receive", 2)``)
to position, then translate pydantic's error locations and the plan's own
semantic problems through that map. Duplicate keys, which PyYAML would silently
resolve to the last one, are caught in the same walk.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from accord.areas import Area
from accord.config import REPO_PLAN_PATH, resolve_plan_path
from accord.errors import PlanError
from accord.parties import Country, Scope
from accord.plan.model import Path, Plan, Problem

DEFAULT_PLAN_PATH = REPO_PLAN_PATH
"""The checkout's ``deploy/plan.yaml``; ``$ACCORD_PLAN`` overrides it when a plan is loaded."""


@dataclass(frozen=True)
class _Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class _Positions:
    keys: dict[Path, _Mark]
    values: dict[Path, _Mark]

    def find(self, path: Path, *, key: bool = False) -> _Mark:
        table = self.keys if key else self.values
        if path in table:
            return table[path]
        # An error inside a value we did not map (or a missing key): report the
        # closest enclosing node that exists in the document.
        for n in range(len(path) - 1, -1, -1):
            if path[:n] in self.values:
                return self.values[path[:n]]
        return _Mark(1, 1)


def _mark(node: yaml.Node) -> _Mark:
    return _Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(node: yaml.Node, path: Path, pos: _Positions, errors: list[str], where: str) -> None:
    pos.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, _Mark] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                m = _mark(key_node)
                errors.append(
                    f"{where}:{m.line}:{m.col}: duplicate key {key!r} "
                    f"(first at line {seen[key].line})\n  hint: merge the two entries into one"
                )
                continue
            seen[key] = _mark(key_node)
            pos.keys[(*path, key)] = _mark(key_node)
            _walk(value_node, (*path, key), pos, errors, where)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            pos.keys[(*path, i)] = _mark(item)
            _walk(item, (*path, i), pos, errors, where)


def load_plan(path: str | os.PathLike[str] | None = None) -> Plan:
    """Load and check a plan. Raises PlanError naming ``file:line`` and the fix."""
    file = resolve_plan_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(
            f"cannot read plan {file}: {exc.strerror or exc}",
            hint="pass --plan FILE or set ACCORD_PLAN to the plan's path",
        ) from None
    return parse_plan(text, str(file))


def dump_plan(plan: Plan, path: str | os.PathLike[str]) -> FsPath:
    """Write ``plan`` as YAML that ``load_plan`` reads back (for nodes started as
    processes of their own, which load their plan from a file)."""
    target = FsPath(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(plan.model_dump(mode="json", by_alias=True)), encoding="utf-8")
    return target


def parse_plan(text: str, where: str = "<plan>") -> Plan:
    """Parse plan text; ``where`` names the source in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark
        line = f"{m.line + 1}:{m.column + 1}" if m else "1:1"
        raise PlanError(
            f"{where}:{line}: not valid YAML: {exc.problem}",
            hint="check indentation and quoting on that line",
        ) from None
    if root is None or not isinstance(data, dict):
        raise PlanError(
            f"{where}:1:1: the plan must be a YAML mapping with version, countries, "
            "scopes, topics and agencies",
            hint="start from deploy/plan.yaml",
        )
    pos = _Positions({}, {})
    dup_errors: list[str] = []
    _walk(root, (), pos, dup_errors, where)
    if dup_errors:
        _raise(dup_errors)
    try:
        plan = Plan.model_validate(data, context={"defer_semantics": True})
    except ValidationError as exc:
        _raise([_describe(e, pos, where) for e in exc.errors()])
    problems = plan.problems()
    if problems:
        _raise([_describe_problem(p, pos, where) for p in problems])
    return plan


def _raise(lines: list[str]) -> typing.NoReturn:
    first, *rest = lines
    message, _, hint = first.partition("\n  hint: ")
    if rest:
        message += f"\n({len(rest)} more problem{'s' if len(rest) > 1 else ''}:)\n" + "\n".join(
            rest
        )
    raise PlanError(message, hint=hint or None)


def _describe_problem(p: Problem, pos: _Positions, where: str) -> str:
    m = pos.find(p.path)
    return f"{where}:{m.line}:{m.col}: {p.message}\n  hint: {p.hint}"


def _dotted(loc: Path) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(err: ErrorDetails, pos: _Positions, where: str) -> str:
    loc: Path = tuple(p for p in err["loc"])
    kind = err["type"]
    is_key = bool(loc) and loc[-1] == "[key]"
    if is_key:
        loc = loc[:-1]
    # The model validator copies agency ids in; errors there belong to the key.
    if len(loc) == 3 and loc[0] == "agencies" and loc[2] == "id":
        loc, is_key = loc[:2], True
    m = pos.find(loc, key=is_key or kind in ("extra_forbidden", "missing"))
    if kind == "missing":
        m = pos.find(loc[:-1])
    head = f"{where}:{m.line}:{m.col}: {_dotted(loc)}"
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        suggestion = _closest(str(loc[-1]), allowed)
        hint = f"remove {loc[-1]!r}" + (f" or spell it {suggestion!r}" if suggestion else "")
        if allowed:
            hint += f"; allowed keys here: {', '.join(allowed)}"
        return f"{head}: unknown key {loc[-1]!r}\n  hint: {hint}"
    if kind == "missing":
        return f"{head}: required key {loc[-1]!r} is missing\n  hint: add {loc[-1]}: ..."
    if kind == "enum" or kind == "literal_error":
        choices = _choices(loc, is_key)
        suggestion = _closest(str(value), choices)
        hint = (f"did you mean {suggestion!r}? " if suggestion else "") + (
            f"one of: {', '.join(choices)}" if choices else err["msg"]
        )
        return f"{head}: {value!r} is not allowed\n  hint: {hint}"
    msg = err["msg"].removeprefix("Value error, ")
    return (
        f"{head}: {msg}\n  hint: fix the value {value!r}"
        if not isinstance(value, dict | list)
        else f"{head}: {msg}\n  hint: see deploy/plan.yaml for the expected shape"
    )


def _closest(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _choices(loc: Path, is_key: bool) -> list[str]:
    """Allowed values at ``loc``: areas, countries or scope names."""
    if loc and loc[0] == "scopes" and (is_key or len(loc) == 2):
        return [s.value for s in Scope]
    if any(p in ("areas", "publish", "receive") for p in loc):
        return [a.value for a in Area]
    if any(p == "countries" for p in loc):
        return [c.value for c in Country]
    if loc and loc[-1] == "cleanup_policy":
        return ["delete", "compact"]
    return []


def _allowed_keys(loc: Path) -> list[str]:
    """The field names of the model found at ``loc``, by walking Plan's annotations."""
    tp: Any = Plan
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(str(part))
            if info is None:
                return []
            tp = info.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [n for n in tp.model_fields if not (tp.__name__ == "AgencyPlan" and n == "id")]
    return []


def _unwrap(tp: Any) -> Any:
    # Optional[X] / X | None -> X
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp

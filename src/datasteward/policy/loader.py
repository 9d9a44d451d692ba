"""Policy text to :class:`Policy`, with every problem located.

``parse_policy`` is pure (text in, model out); ``load_policy_file`` only adds
reading the file. Both raise :class:`PolicyLoadError` with one
:class:`Problem` per fault: ``file:line:column: path: message``."""

from __future__ import annotations

import hashlib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from datasteward.errors import Location, PolicyLoadError, Problem
from datasteward.policy.model import Policy
from datasteward.policy.references import check_references, did_you_mean
from datasteward.policy.source import PathKey, SourceMap, format_path, read_yaml

__all__ = ["LoadedPolicy", "load_policy_file", "parse_policy"]

MAX_POLICY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with its source text, hash and positions."""

    policy: Policy
    file: str
    text: str
    source_map: SourceMap

    @property
    def sha256(self) -> str:
        """Hash of the exact text, which identifies the stored version."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def line(self, path: PathKey) -> int | None:
        return self.source_map.line(path)


def parse_policy(text: str, file: str = "<policy>") -> LoadedPolicy:
    """Validate policy text; raise :class:`PolicyLoadError` listing every fault."""
    data, source_map = read_yaml(text, file)
    if not isinstance(data, dict):
        raise PolicyLoadError(
            [Problem("a policy file must be a mapping of sections", "", Location(file, 1, 1))]
        )
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyLoadError(_problems_from_validation(exc, source_map)) from None
    broken = check_references(policy)
    if broken:
        raise PolicyLoadError(
            [Problem(msg, format_path(path), source_map.locate(path)) for path, msg in broken]
        )
    return LoadedPolicy(policy=policy, file=file, text=text, source_map=source_map)


def load_policy_file(path: str | Path) -> LoadedPolicy:
    """Read and parse a policy file; unreadable files are a located problem too."""
    name = str(path)
    where = Location(name, 1, 1)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise PolicyLoadError([Problem("no such file", "", where)]) from None
    except IsADirectoryError:
        raise PolicyLoadError([Problem("is a directory, not a policy file", "", where)]) from None
    except OSError as exc:
        raise PolicyLoadError([Problem(f"cannot read: {exc.strerror}", "", where)]) from None
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyLoadError([Problem("larger than 10 MiB; not a policy file", "", where)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyLoadError([Problem("not UTF-8 text", "", Location(name, line, 1))]) from None
    return parse_policy(text, name)


# -- turning pydantic's errors into located, readable problems ---------------

_QUOTED = re.compile(r"'([^']*)'")


def _problems_from_validation(exc: ValidationError, source_map: SourceMap) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[PathKey, str]] = set()
    for error in exc.errors(include_url=False):
        path: PathKey = tuple(
            part for part in error["loc"] if isinstance(part, int) or not part.startswith("[")
        )
        message = _message(error, path)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        key = error["type"] == "extra_forbidden"
        problems.append(Problem(message, format_path(path), source_map.locate(path, key=key)))
    return problems


def _message(error: Any, path: PathKey) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        name = str(path[-1]) if path else "?"
        allowed = _allowed_keys(path[:-1])
        hint = did_you_mean(name, allowed)
        return f"unknown key '{name}'{hint}"
    if kind == "missing":
        return f"missing required key '{path[-1]}'" if path else "missing required key"
    if kind == "enum":
        expected = _QUOTED.findall(error.get("ctx", {}).get("expected", ""))
        hint = did_you_mean(str(value), expected)
        return f"'{value}' is not one of {', '.join(expected)}{hint}"
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        if pattern.startswith("^[a-z0-9]"):
            return f"'{value}' is not a valid id: use lower-case letters, digits, '_', '-' and '.'"
        return f"'{value}' does not have the expected form ({pattern})"
    if kind in {"value_error", "assertion_error"}:
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in {"list_type", "dict_type", "model_type", "model_attributes_type"}:
        wanted = {"list_type": "a list", "dict_type": "a mapping"}.get(kind, "a mapping")
        return f"expected {wanted}, got {_describe(value)}"
    return f"{error['msg']} (got {_describe(value)})"


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(path: PathKey) -> list[str]:
    """The keys the model accepts at ``path`` (for "did you mean")."""
    model: Any = Policy
    for part in path:
        model = _unwrap(model)
        if isinstance(part, int):
            args = typing.get_args(model)
            model = args[0] if args else None
        elif isinstance(model, type) and issubclass(model, BaseModel):
            field = _field_by_key(model, part)
            model = field.annotation if field else None
        else:
            return []
    model = _unwrap(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items()]
    return []


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip ``X | None`` to ``X``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation

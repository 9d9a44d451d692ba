"""The policy file reference, generated from the model itself.

Hand-written key tables drift from the code; this module walks
:class:`Policy` and every section class it reaches and renders one Markdown
table per class (key, type, required or default, meaning), so the published
reference is the model. ``docs/policy-reference.md`` holds a hand-written
introduction and this output between two markers; a test fails when they
differ, and ``python -m datasteward.policy.reference --write FILE`` refreshes
the block."""

from __future__ import annotations

import enum
import inspect
import sys
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from datasteward.legaltime.duration import IsoDuration
from datasteward.policy.model import Policy
from datasteward.policy.model.base import IDENTIFIER_PATTERN

__all__ = ["END_MARKER", "START_MARKER", "render_reference", "replace_generated_block"]

START_MARKER = "<!-- generated:start -->"
END_MARKER = "<!-- generated:end -->"
REFRESH_COMMAND = "python -m datasteward.policy.reference --write docs/policy-reference.md"

_PATTERN_NAMES = {
    IDENTIFIER_PATTERN: "id",
    r"^[A-Z]{2}$": "country code",
    r"^[A-Z_][A-Z0-9_]*$": "environment variable name",
}
_PLAIN_NAMES: dict[Any, str] = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "true/false",
    date: "date (YYYY-MM-DD)",
    IsoDuration: "duration (ISO 8601)",
}


@dataclass
class _Walk:
    """Model classes in the order first reached, with every path reaching them."""

    order: list[type[BaseModel]] = field(default_factory=list)
    paths: dict[type[BaseModel], list[str]] = field(default_factory=dict)

    def visit(self, model: type[BaseModel], path: str) -> None:
        if model in self.paths:
            self.paths[model].append(path)
            return
        self.order.append(model)
        self.paths[model] = [path]
        for name, info in model.model_fields.items():
            key = info.alias or name
            for child, suffix in _models_in(info.annotation):
                self.visit(child, f"{path}.{key}{suffix}" if path else f"{key}{suffix}")


def _split_annotated(annotation: Any) -> tuple[Any, list[Any]]:
    """``Annotated[X, m1, m2]`` -> ``(X, [m1, m2])``; anything else unchanged."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        return base, metadata
    return annotation, []


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) < len(typing.get_args(annotation)) and len(args) == 1:
            return args[0], True
    return annotation, False


def _models_in(annotation: Any, suffix: str = "") -> list[tuple[type[BaseModel], str]]:
    """Model classes inside an annotation, with ``[]`` for each list level."""
    annotation, _ = _split_annotated(annotation)
    annotation, _ = _without_none(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, suffix)]
    origin = typing.get_origin(annotation)
    if origin is list:
        return _models_in(typing.get_args(annotation)[0], suffix + "[]")
    if origin is dict:
        return _models_in(typing.get_args(annotation)[1], suffix + ".*")
    return []


def _type_text(annotation: Any, metadata: list[Any]) -> str:
    """A reader's name for a field type: ``list of id``, ``one of `a`, `b` ``."""
    annotation, inner = _split_annotated(annotation)
    metadata = [*metadata, *inner]
    annotation, _ = _without_none(annotation)
    annotation, inner = _split_annotated(annotation)
    metadata = [*metadata, *inner]
    for item in metadata:
        pattern = getattr(item, "pattern", None)
        if pattern in _PATTERN_NAMES:
            return _PATTERN_NAMES[pattern]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    origin = typing.get_origin(annotation)
    if origin is list:
        item = _type_text(typing.get_args(annotation)[0], [])
        return f"list, each {item}" if item.startswith("one of") else f"list of {item}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"mapping from keys ({_type_text(key, [])}) to {_type_text(value, [])}"
    if getattr(annotation, "__name__", "") == "EmailStr":
        return "email address"
    name = _PLAIN_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))
    low = next((item.ge for item in metadata if getattr(item, "ge", None) is not None), None)
    high = next((item.le for item in metadata if getattr(item, "le", None) is not None), None)
    if low is not None and high is not None:
        return f"{name} from {low} to {high}"
    return name


def _yaml_value(value: Any) -> str:
    """A default written as it would be in the policy file."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None or isinstance(value, BaseModel):
        return "optional"  # a section's own defaults are listed in its table
    if value in ([], {}):
        return "optional (empty)"
    return f"default `{_yaml_value(value)}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _summary(model: type[BaseModel]) -> str:
    """The first paragraph of the class docstring, on one line."""
    doc = inspect.cleandoc(model.__doc__ or "")
    return " ".join(doc.split("\n\n", 1)[0].split())


def _section(model: type[BaseModel], paths: list[str]) -> str:
    where = ", ".join(f"`{p}`" for p in paths) if paths != [""] else "the top level of the file"
    lines = [
        f"### {model.__name__}",
        "",
        _summary(model),
        "",
        f"Written at: {where}.",
        "",
        "| Key | Type | Required / default | Meaning |",
        "|---|---|---|---|",
    ]
    for name, info in model.model_fields.items():
        key = info.alias or name
        kind = _type_text(info.annotation, list(info.metadata))
        lines.append(
            f"| `{key}` | {_cell(kind)} | {_cell(_default_text(info))} "
            f"| {_cell(info.description or '')} |"
        )
    return "\n".join(lines)


def render_reference() -> str:
    """Markdown for every section class reachable from :class:`Policy`."""
    walk = _Walk()
    walk.visit(Policy, "")
    intro = (
        f"<!-- Generated from the policy model; refresh with `{REFRESH_COMMAND}`. -->\n\n"
        "## Sections and keys\n\n"
        "Every key a policy file may contain, section by section. `[]` in a path "
        'means "each item of the list". Unknown keys are an error.\n'
    )
    sections = [_section(model, walk.paths[model]) for model in walk.order]
    return intro + "\n" + "\n\n".join(sections) + "\n"


def replace_generated_block(document: str, generated: str) -> str:
    """``document`` with the text between the markers replaced by ``generated``."""
    start = document.index(START_MARKER) + len(START_MARKER)
    end = document.index(END_MARKER, start)
    return document[:start] + "\n" + generated + document[end:]


def _main(argv: list[str]) -> int:
    """Print the reference, or with ``--write FILE`` refresh FILE's generated block."""
    if len(argv) == 2 and argv[0] == "--write":
        path = Path(argv[1])
        text = path.read_text(encoding="utf-8")
        path.write_text(replace_generated_block(text, render_reference()), encoding="utf-8")
        return 0
    if argv:
        sys.stderr.write("usage: python -m datasteward.policy.reference [--write FILE]\n")
        return 2
    sys.stdout.write(render_reference())
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))

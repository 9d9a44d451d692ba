"""YAML with positions: turn policy text into plain Python values and a map
from every value's path to where it stands in the file.

The parser's events carry start marks; we build the values ourselves from
those events so that duplicate keys are an error (plain ``yaml.safe_load``
silently keeps the last one) and so every path (``purposes[2].legal_bases``)
can be traced back to ``file:line:column``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from datasteward.errors import Location, PolicyLoadError, Problem, one_line

__all__ = ["PathKey", "SourceMap", "format_path", "read_yaml"]

PathKey = tuple[str | int, ...]

MAX_NODES = 2_000_000
"""Values one document may hold."""
MAX_ALIAS_EXPANSION = 10_000
"""Values that aliases may repeat; bounds alias bombs ("billion laughs")."""
MAX_DEPTH = 64


def format_path(path: Iterable[str | int]) -> str:
    """``("purposes", 2, "legal_bases")`` -> ``purposes[2].legal_bases``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass
class SourceMap:
    """Where each path of a loaded document stands in its file."""

    file: str
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    """Path -> (line, column), 1-based: plain tuples, as a large policy has tens
    of thousands of them."""
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Iterable[str | int], *, key: bool = False) -> Location | None:
        """The location of ``path`` or, if it is absent, of its nearest ancestor.

        ``key=True`` prefers the key's own position (for "unknown key")."""
        parts = tuple(path)
        if key and parts in self.keys:
            return Location(self.file, *self.keys[parts])
        while True:
            if parts in self.values:
                return Location(self.file, *self.values[parts])
            if not parts:
                return None
            parts = parts[:-1]

    def line(self, path: Iterable[str | int]) -> int | None:
        parts = tuple(path)
        while True:
            if parts in self.values:
                return self.values[parts][0]
            if not parts:
                return None
            parts = parts[:-1]


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when available (several times faster), PyYAML's otherwise."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


def _at(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


_NOT_YAML_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"
)
"""Characters YAML does not allow in a stream (YAML 1.1, section 5.1)."""


@dataclass
class _Frame:
    """A mapping or sequence being filled, with where it started."""

    value: dict[str, Any] | list[Any]
    path: PathKey
    size: int = 1
    anchor: str | None = None
    key: str | None = None
    key_pending: bool = True
    skip_value: bool = False


class _EventBuilder:
    """Builds plain values from parser events with an explicit stack: no
    recursion however deep the input, duplicate keys caught, every value
    located, and aliases counted so that an alias bomb is refused early."""

    def __init__(self, loader: Any, file: str) -> None:
        self.loader = loader
        self.file = file
        self.source_map = SourceMap(file)
        self.problems: list[Problem] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.stack: list[_Frame] = []
        self.count = 0
        self.repeated = 0
        self.root: Any = None
        self.done = False
        self.constructor = SafeConstructor()

    def loc(self, mark: Any) -> Location:
        return Location(self.file, mark.line + 1, mark.column + 1)

    def fail(self, message: str, path: PathKey, mark: Any) -> PolicyLoadError:
        return PolicyLoadError([Problem(message, format_path(path), self.loc(mark))])

    def child_path(self) -> PathKey:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        return (*top.path, top.key if top.key is not None else "?")

    def run(self) -> Any:
        loader = self.loader
        while loader.check_event():
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                self.scalar(event)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                self.start(event, {} if kind is yaml.MappingStartEvent else [])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = self.stack.pop()
                self.deliver(frame.value, None, frame.size, frame.anchor, frame.path)
            elif kind is yaml.AliasEvent:
                self.alias(event)
            elif kind is yaml.DocumentStartEvent and self.done:
                raise self.fail(
                    "found another document here; a policy file holds one YAML document",
                    (),
                    event.start_mark,
                )
            elif kind is yaml.DocumentEndEvent:
                self.done = True
        return self.root

    def start(self, event: Any, value: dict[str, Any] | list[Any]) -> None:
        path = self.child_path()
        if self.stack and isinstance(self.stack[-1].value, dict) and self.stack[-1].key_pending:
            raise self.fail(
                "mapping keys must be plain text", self.stack[-1].path, event.start_mark
            )
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail(
                f"the document nests too deeply (over {MAX_DEPTH} levels)", path, event.start_mark
            )
        self.count += 1
        self.source_map.values[path] = _at(event.start_mark)
        self.stack.append(_Frame(value=value, path=path, anchor=event.anchor))

    def scalar(self, event: Any) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            if event.style:  # quoted or block scalars are text
                tag = _STR_TAG
            else:
                tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        top = self.stack[-1] if self.stack else None
        is_key = top is not None and isinstance(top.value, dict) and top.key_pending
        path = self.child_path() if not is_key else (*top.path,) if top else ()
        if tag == _MERGE_TAG and is_key:
            raise self.fail("YAML merge keys (<<) are not supported", path, event.start_mark)
        try:
            if tag == _STR_TAG:
                value: Any = event.value
            else:
                node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
                value = self.constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            reason = one_line(getattr(exc, "problem", None) or str(exc))
            raise self.fail(
                f"'{event.value}' cannot be read: {reason}", path, event.start_mark
            ) from None
        if is_key:
            assert top is not None
            key = str(value)
            child = (*top.path, key)
            assert isinstance(top.value, dict)
            if key in top.value or (child in self.source_map.keys and top.skip_value):
                first = Location(self.file, *self.source_map.keys[child])
                self.problems.append(
                    Problem(
                        f"duplicate key '{key}' (first defined at line {first.line})",
                        format_path(child),
                        self.loc(event.start_mark),
                    )
                )
                top.skip_value = True
            else:
                self.source_map.keys[child] = _at(event.start_mark)
                top.skip_value = False
            top.key = key
            top.key_pending = False
            return
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail("the document is too large", path, event.start_mark)
        self.source_map.values[path] = _at(event.start_mark)
        self.deliver(value, event.start_mark, 1, event.anchor, path)

    def alias(self, event: Any) -> None:
        path = self.child_path()
        if event.anchor not in self.anchors:
            raise self.fail(f"unknown alias '*{event.anchor}'", path, event.start_mark)
        value, size = self.anchors[event.anchor]
        self.repeated += size
        if self.repeated > MAX_ALIAS_EXPANSION:
            raise self.fail(
                "YAML aliases expand to too many values (an alias bomb?)", path, event.start_mark
            )
        top = self.stack[-1] if self.stack else None
        if top is not None and isinstance(top.value, dict) and top.key_pending:
            raise self.fail("mapping keys must be plain text", top.path, event.start_mark)
        self.source_map.values[path] = _at(event.start_mark)
        self.deliver(value, event.start_mark, size, None, path)

    def deliver(self, value: Any, mark: Any, size: int, anchor: str | None, path: PathKey) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.value, list):
            top.value.append(value)
            return
        if not top.skip_value:
            assert top.key is not None
            top.value[top.key] = value
        top.key = None
        top.key_pending = True
        top.skip_value = False


def read_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain values plus its :class:`SourceMap`.

    Raises :class:`PolicyLoadError` for syntax errors, several documents,
    duplicate keys, unknown tags, too deep nesting and anchors/aliases that
    could expand without bound."""
    bad = _NOT_YAML_TEXT.search(text)
    if bad is not None:
        before = text[: bad.start()]
        where = Location(file, before.count("\n") + 1, bad.start() - before.rfind("\n"))
        raise PolicyLoadError(
            [Problem(f"{bad.group()!r} is not a character allowed in YAML", "", where)]
        )
    loader = _Loader(text)
    builder = _EventBuilder(loader, file)
    try:
        value = builder.run()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = Location(file, mark.line + 1, mark.column + 1) if mark else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise PolicyLoadError([Problem(f"YAML syntax error: {reason}", "", location)]) from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        location = Location(
            file, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        )
        what = repr(exc.character) if isinstance(exc.character, str) else "a byte"
        raise PolicyLoadError(
            [Problem(f"{what} is not allowed in YAML ({exc.reason})", "", location)]
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyLoadError(
            [Problem(f"YAML error: {one_line(str(exc))}", "", Location(file, 1, 1))]
        ) from None
    finally:
        loader.dispose()
    if builder.problems:
        raise PolicyLoadError(builder.problems)
    if not builder.done or value is None:
        raise PolicyLoadError([Problem("the file is empty", "", Location(file, 1, 1))])
    return value, builder.source_map

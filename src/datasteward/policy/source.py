"""YAML with positions: turn policy text into plain Python values and a map
from every value's path to where it stands in the file.

PyYAML's composer gives nodes with start marks; we build the values ourselves
from those nodes so that duplicate keys are an error (plain ``yaml.safe_load``
silently keeps the last one) and so every path (``purposes[2].legal_bases``)
can be traced back to ``file:line:column``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from datasteward.errors import Location, PolicyLoadError, Problem

__all__ = ["PathKey", "SourceMap", "format_path", "read_yaml"]

PathKey = tuple[str | int, ...]

MAX_NODES = 2_000_000
"""Values one document may hold."""
MAX_ALIAS_EXPANSION = 10_000
"""Values that aliases may repeat; bounds alias bombs ("billion laughs")."""
MAX_DEPTH = 64


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader whose composer refuses deep nesting with a located error
    instead of exhausting Python's recursion limit."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event: Any = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"the document nests too deeply (over {MAX_DEPTH} levels)",
                    event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


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
    values: dict[PathKey, Location] = field(default_factory=dict)
    keys: dict[PathKey, Location] = field(default_factory=dict)

    def locate(self, path: Iterable[str | int], *, key: bool = False) -> Location | None:
        """The location of ``path`` or, if it is absent, of its nearest ancestor.

        ``key=True`` prefers the key's own position (for "unknown key")."""
        parts = tuple(path)
        if key and parts in self.keys:
            return self.keys[parts]
        while True:
            if parts in self.values:
                return self.values[parts]
            if not parts:
                return None
            parts = parts[:-1]

    def line(self, path: Iterable[str | int]) -> int | None:
        loc = self.locate(path)
        return loc.line if loc else None


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.source_map = SourceMap(file)
        self.constructor = SafeConstructor()
        self.problems: list[Problem] = []
        self.count = 0
        self.seen: set[int] = set()
        self.repeated = 0

    def loc(self, node: Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: Node, path: PathKey) -> Any:
        self.count += 1
        if id(node) in self.seen:
            self.repeated += 1
        else:
            self.seen.add(id(node))
        if self.repeated > MAX_ALIAS_EXPANSION:
            raise PolicyLoadError(
                [
                    Problem(
                        "YAML aliases expand to too many values (an alias bomb?)",
                        format_path(path),
                        self.loc(node),
                    )
                ]
            )
        if self.count > MAX_NODES or len(path) > MAX_DEPTH:
            raise PolicyLoadError(
                [
                    Problem(
                        "the document is too large or nests too deeply (YAML aliases?)",
                        format_path(path),
                        self.loc(node),
                    )
                ]
            )
        self.source_map.values[path] = self.loc(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        raise AssertionError(f"unexpected YAML node {type(node).__name__}")  # pragma: no cover

    def _scalar(self, node: ScalarNode, path: PathKey) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            self.problems.append(
                Problem(
                    f"'{node.value}' cannot be read: {reason}", format_path(path), self.loc(node)
                )
            )
            return None

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    Problem(
                        "YAML merge keys (<<) are not supported",
                        format_path(path),
                        self.loc(key_node),
                    )
                )
                continue
            if not isinstance(key_node, ScalarNode):
                self.problems.append(
                    Problem(
                        "mapping keys must be plain text", format_path(path), self.loc(key_node)
                    )
                )
                continue
            key = str(self._scalar(key_node, path))
            child = (*path, key)
            if key in result:
                first = self.source_map.keys[child]
                self.problems.append(
                    Problem(
                        f"duplicate key '{key}' (first defined at line {first.line})",
                        format_path(child),
                        self.loc(key_node),
                    )
                )
                continue
            self.source_map.keys[child] = self.loc(key_node)
            result[key] = self.build(value_node, child)
        return result


def read_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain values plus its :class:`SourceMap`.

    Raises :class:`PolicyLoadError` for syntax errors, several documents,
    duplicate keys and anchors/aliases that could expand without bound."""
    try:
        loader = _BoundedLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
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
        message = " ".join(str(exc).split())
        raise PolicyLoadError(
            [Problem(f"YAML error: {message}", "", Location(file, 1, 1))]
        ) from None
    if node is None:
        raise PolicyLoadError([Problem("the file is empty", "", Location(file, 1, 1))])
    builder = _Builder(file)
    value = builder.build(node, ())
    if builder.problems:
        raise PolicyLoadError(builder.problems)
    return value, builder.source_map

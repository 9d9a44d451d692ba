"""docs/policy-reference.md documents every key the model accepts, and its
generated part is exactly what the model renders today."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from datasteward.policy import Policy, parse_policy
from datasteward.policy.reference import (
    END_MARKER,
    START_MARKER,
    render_reference,
    replace_generated_block,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy-reference.md"
REFRESH = "python -m datasteward.policy.reference --write docs/policy-reference.md"


def _document() -> str:
    return DOC.read_text(encoding="utf-8")


def _reachable_models() -> list[type[BaseModel]]:
    """Every model class reachable from Policy, found by walking type arguments."""
    found: list[type[BaseModel]] = []

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                for info in annotation.model_fields.values():
                    walk(info.annotation)
            return
        for argument in typing.get_args(annotation):
            walk(argument)

    walk(Policy)
    return found


def _sections(document: str) -> dict[str, str]:
    """Generated sections by class name (``### Name`` up to the next heading)."""
    generated = document.split(START_MARKER, 1)[1].split(END_MARKER, 1)[0]
    parts = re.split(r"^### (\w+)\n", generated, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_generated_block_is_current() -> None:
    document = _document()
    assert document.count(START_MARKER) == 1 and document.count(END_MARKER) == 1
    assert document == replace_generated_block(document, render_reference()), (
        f"docs/policy-reference.md is out of date with the policy model; run: {REFRESH}"
    )


def test_reachable_models_are_the_whole_model() -> None:
    names = {model.__name__ for model in _reachable_models()}
    assert {"Policy", "Purpose", "Dataset", "DatasetField", "Anchor", "Contact"} <= names
    assert len(names) >= 30


@pytest.mark.parametrize("model", _reachable_models(), ids=lambda m: m.__name__)
def test_every_key_of_every_section_has_a_table_row(model: type[BaseModel]) -> None:
    sections = _sections(_document())
    assert model.__name__ in sections, f"no section for {model.__name__}; run: {REFRESH}"
    body = sections[model.__name__]
    for name, info in model.model_fields.items():
        key = info.alias or name
        assert re.search(rf"^\| `{re.escape(key)}` \|", body, flags=re.MULTILINE), (
            f"{model.__name__}.{key} has no row in docs/policy-reference.md; run: {REFRESH}"
        )


def test_aliases_are_documented_not_field_names() -> None:
    dataset = _sections(_document())["Dataset"]
    assert "| `schema` |" in dataset
    assert "db_schema" not in dataset


def test_rows_show_enum_values_defaults_and_requiredness() -> None:
    sections = _sections(_document())
    purpose_bases = next(
        line for line in sections["Purpose"].splitlines() if line.startswith("| `legal_bases` |")
    )
    assert "`consent`" in purpose_bases and "`legitimate_interest`" in purpose_bases
    assert "| `response_period` | duration (ISO 8601) | default `P1M` |" in sections["Rights"]
    assert "| `legal_name` | text | required |" in sections["Controller"]
    assert "| `url_env` | environment variable name | optional |" in sections["System"]
    assert "| `minimum_age` | integer from 0 to 21 | optional |" in sections["DataSubject"]


def test_replace_generated_block_keeps_the_hand_written_parts() -> None:
    document = f"intro\n{START_MARKER}\nold\n{END_MARKER}\noutro\n"
    assert replace_generated_block(document, "new\n") == (
        f"intro\n{START_MARKER}\nnew\n{END_MARKER}\noutro\n"
    )


def test_the_documented_example_is_a_valid_policy() -> None:
    example = re.search(r"```yaml\n(.*?)```", _document(), flags=re.DOTALL)
    assert example is not None
    loaded = parse_policy(example.group(1), "docs/policy-reference.md")
    assert loaded.policy.systems[0].url_env == "SHOP_DATABASE_URL"

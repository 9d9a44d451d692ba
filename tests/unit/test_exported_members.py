"""The public API is deliberate: ``__all__`` lists exactly the public names
each package module exposes, and every listed name exists."""

from __future__ import annotations

import importlib

import pytest

import datasteward

PUBLIC_MODULES = [
    "datasteward",
    "datasteward.errors",
    "datasteward.policy",
    "datasteward.policy.model",
    "datasteward.legaltime",
    "datasteward.lint",
    "datasteward.documents",
    "datasteward.policy.diff",
    "datasteward.crypto",
    "datasteward.identity",
    "datasteward.consent",
    "datasteward.audit",
    "datasteward.subjects",
    "datasteward.fulfilment",
    "datasteward.packages",
    "datasteward.connectors",
    "datasteward.requests",
    "datasteward.notify",
    "datasteward.jobs",
]


def test_top_level_exports() -> None:
    assert sorted(datasteward.__all__) == sorted(
        [
            "LoadedPolicy",
            "Policy",
            "PolicyLoadError",
            "StewardError",
            "__version__",
            "load_policy_file",
            "parse_policy",
        ]
    )


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist_and_public_names_are_listed(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ lists missing {item}"
    defined_here = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", None) == name
        and (isinstance(value, type) or callable(value))
    }
    assert defined_here <= exported, f"{name} defines unlisted {sorted(defined_here - exported)}"

"""Audit use cases: verify the chains, list events."""

from __future__ import annotations

from datasteward.audit.chain import ChainHead, VerifyResult, verify_chain
from datasteward.ports import EngineStore

__all__ = ["CHAIN_NAMES", "verify_store"]

CHAIN_NAMES = ("audit", "consent")


def verify_store(
    store: EngineStore,
    chains: tuple[str, ...] = CHAIN_NAMES,
    *,
    expected_heads: dict[str, ChainHead] | None = None,
) -> dict[str, VerifyResult]:
    """Verify each chain from its first row to its head, in one snapshot each."""
    results: dict[str, VerifyResult] = {}
    for name in chains:
        with store.chain_rows(name) as (head, rows):
            results[name] = verify_chain(rows, head, expected_head=(expected_heads or {}).get(name))
    return results

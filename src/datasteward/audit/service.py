"""Audit use cases: verify the chains, list events.

A store that can build each row's hashed text itself (see
:class:`MaterialChainSource`) is verified through
:func:`~datasteward.audit.chain.verify_material_chain`, which still hashes
every row here but skips encoding the fields in Python, several times
faster; any other store through :func:`~datasteward.audit.chain.verify_chain`.
A store that offers :class:`SegmentedChainSource` (SQLite files) has
long chains checked in stretches by worker processes, joined by
:func:`~datasteward.audit.chain.verify_segments`. All are exactly as
strict: the same first failure, reason and count."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from datasteward.audit.chain import (
    ChainHead,
    Field,
    Segment,
    VerifyResult,
    verify_chain,
    verify_material_chain,
    verify_segments,
)
from datasteward.ports import EngineStore

__all__ = ["CHAIN_NAMES", "MaterialChainSource", "SegmentedChainSource", "verify_store"]

CHAIN_NAMES = ("audit", "consent")

MaterialRows = tuple[
    ChainHead, Iterator[tuple[Any, Any, Any, Any]], Callable[[int], Sequence[Field] | None]
]


@runtime_checkable
class MaterialChainSource(Protocol):
    """A store that reads a chain as ``(seq, prev_hash, hash, material)`` rows
    in one snapshot, with a way to read one row's fields back."""

    def chain_material(self, chain: str) -> AbstractContextManager[MaterialRows]: ...


@runtime_checkable
class SegmentedChainSource(Protocol):
    """A store that can check stretches of a long chain in parallel, each
    with :func:`~datasteward.audit.chain.check_segment`, and hand over the
    summaries, the rows after the head, and a reader of one row's fields;
    None where parallel checking does not pay."""

    def chain_segments(
        self, chain: str, anchor_seq: int | None = None
    ) -> AbstractContextManager[
        tuple[
            ChainHead,
            list[Segment],
            Iterator[tuple[Any, Any, Any, Any]],
            Callable[[int], Sequence[Field] | None],
        ]
        | None
    ]: ...


def verify_store(
    store: EngineStore,
    chains: tuple[str, ...] = CHAIN_NAMES,
    *,
    expected_heads: dict[str, ChainHead] | None = None,
) -> dict[str, VerifyResult]:
    """Verify each chain from its first row to its head, in one snapshot each."""
    results: dict[str, VerifyResult] = {}
    anchors = expected_heads or {}
    for name in chains:
        anchor = anchors.get(name)
        if isinstance(store, SegmentedChainSource):
            with store.chain_segments(name, anchor.seq if anchor else None) as parts:
                if parts is not None:
                    head, segments, tail, fields_of = parts
                    results[name] = verify_segments(
                        segments, tail, head, fields_of=fields_of, expected_head=anchor
                    )
                    continue
        if isinstance(store, MaterialChainSource):
            with store.chain_material(name) as (head, material, fields_of):
                results[name] = verify_material_chain(
                    material, head, fields_of=fields_of, expected_head=anchors.get(name)
                )
        else:
            with store.chain_rows(name) as (head, rows):
                results[name] = verify_chain(rows, head, expected_head=anchors.get(name))
    return results

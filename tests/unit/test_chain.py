"""Hash chains: every valid chain verifies, and every kind of tampering is
caught at exactly the row where it happened.

Chains are generated (hypothesis), then edited the way an attacker with
write access to the table could: change a field, a hash or a link, delete,
insert or swap rows, or move the head. ``first_bad_seq`` must name the first
row that no longer fits, not merely "somewhere"."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from datasteward.audit import GENESIS_HASH, ChainHead, ChainRow, row_hash, verify_chain
from datasteward.audit.chain import (
    Field,
    VerifyResult,
    check_segment,
    encode_fields,
    row_material,
    verify_material_chain,
    verify_segments,
)

FAST = settings(max_examples=40, deadline=None)
"""Enough examples to hit first, middle and last rows of short chains, quickly."""

field_values: st.SearchStrategy[Field] = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(max_size=12),
    st.binary(max_size=12),
)


@st.composite
def field_lists(draw: st.DrawFn, min_size: int = 1, max_size: int = 8) -> list[tuple[Field, ...]]:
    """The fields of a chain's rows: every row of one chain has the same arity."""
    arity = draw(st.integers(min_value=1, max_value=5))
    row = st.tuples(*[field_values] * arity)
    return draw(st.lists(row, min_size=min_size, max_size=max_size))


def build(fields: Sequence[tuple[Field, ...]]) -> tuple[list[ChainRow], ChainHead]:
    """A valid chain over ``fields`` and its head, as the store would write it."""
    rows: list[ChainRow] = []
    prev = GENESIS_HASH
    for seq, values in enumerate(fields, start=1):
        digest = row_hash(seq, prev, values)
        rows.append(ChainRow(seq, prev, digest, values))
        prev = digest
    return rows, ChainHead(len(rows), prev)


def forge(seq: int, prev_hash: str, values: tuple[Field, ...]) -> ChainRow:
    """A row with a correct hash for its place: what a careful forger writes."""
    return ChainRow(seq, prev_hash, row_hash(seq, prev_hash, values), values)


def different(value: Field) -> st.SearchStrategy[Field]:
    return field_values.filter(lambda v: v != value)


# -- valid chains -----------------------------------------------------------------


@FAST
@given(field_lists(min_size=0))
def test_valid_chain_verifies(fields: list[tuple[Field, ...]]) -> None:
    rows, head = build(fields)
    result = verify_chain(rows, head)
    assert result.ok
    assert result.checked == len(rows)
    assert result.first_bad_seq is None
    assert result.reason is None
    assert result.head == head


def test_empty_chain_without_head_is_valid() -> None:
    result = verify_chain([], None)
    assert result.ok
    assert result.checked == 0


def test_empty_chain_with_genesis_head_is_valid() -> None:
    result = verify_chain([], ChainHead(0, GENESIS_HASH))
    assert result.ok
    assert result.head == ChainHead(0, GENESIS_HASH)


def test_to_dict_shape() -> None:
    rows, head = build([("a",), ("b",)])
    assert verify_chain(rows, head).to_dict() == {
        "ok": True,
        "checked": 2,
        "first_bad_seq": None,
        "reason": None,
        "head": {"seq": 2, "hash": head.hash},
    }
    broken = verify_chain(rows[:1], head).to_dict()
    assert broken["ok"] is False
    assert broken["first_bad_seq"] == 2
    assert broken["head"] == {"seq": 1, "hash": rows[0].hash}


# -- edits ----------------------------------------------------------------------


@FAST
@given(field_lists(), st.data())
def test_edited_field_is_caught_at_its_row(
    fields: list[tuple[Field, ...]], data: st.DataObject
) -> None:
    rows, head = build(fields)
    i = data.draw(st.integers(0, len(rows) - 1))
    j = data.draw(st.integers(0, len(fields[0]) - 1))
    values = list(rows[i].fields)
    values[j] = data.draw(different(values[j]))
    rows[i] = replace(rows[i], fields=tuple(values))
    result = verify_chain(rows, head)
    assert not result.ok
    assert result.first_bad_seq == i + 1
    assert result.checked == i
    assert result.reason == f"row {i + 1} was altered (its hash does not match)"


@FAST
@given(field_lists(), st.data())
def test_edited_row_with_recomputed_hash_is_caught(
    fields: list[tuple[Field, ...]], data: st.DataObject
) -> None:
    """A forger who also fixes the edited row's hash breaks the next link, or,
    for the last row, no longer matches the head."""
    rows, head = build(fields)
    i = data.draw(st.integers(0, len(rows) - 1))
    values = list(rows[i].fields)
    values[0] = data.draw(different(values[0]))
    rows[i] = forge(i + 1, rows[i].prev_hash, tuple(values))
    result = verify_chain(rows, head)
    assert not result.ok
    if i < len(rows) - 1:
        assert result.first_bad_seq == i + 2
        assert "does not link" in str(result.reason)
    else:
        assert result.first_bad_seq == i + 1
        assert result.reason == f"row {i + 1} does not match the chain head"


@FAST
@given(field_lists(), st.data())
def test_edited_hash_is_caught(fields: list[tuple[Field, ...]], data: st.DataObject) -> None:
    rows, head = build(fields)
    i = data.draw(st.integers(0, len(rows) - 1))
    new_hash = data.draw(st.text("0123456789abcdef", min_size=64, max_size=64))
    assume(new_hash != rows[i].hash)
    rows[i] = replace(rows[i], hash=new_hash)
    result = verify_chain(rows, head)
    assert not result.ok
    assert result.first_bad_seq == i + 1
    assert "altered" in str(result.reason)


@FAST
@given(field_lists(), st.data())
def test_changed_prev_hash_is_caught(fields: list[tuple[Field, ...]], data: st.DataObject) -> None:
    rows, head = build(fields)
    i = data.draw(st.integers(0, len(rows) - 1))
    new_prev = data.draw(st.text("0123456789abcdef", min_size=64, max_size=64))
    assume(new_prev != rows[i].prev_hash)
    rows[i] = replace(rows[i], prev_hash=new_prev)
    result = verify_chain(rows, head)
    assert not result.ok
    assert result.first_bad_seq == i + 1
    assert result.reason == f"row {i + 1} does not link to row {i}"


@FAST
@given(field_lists(), st.data())
def test_increased_seq_is_a_gap(fields: list[tuple[Field, ...]], data: st.DataObject) -> None:
    rows, head = build(fields)
    i = data.draw(st.integers(0, len(rows) - 1))
    rows[i] = replace(rows[i], seq=rows[i].seq + data.draw(st.integers(1, 5)))
    result = verify_chain(rows, head)
    assert not result.ok
    assert result.first_bad_seq == i + 1


# -- deletions ------------------------------------------------------------------


@FAST
@given(field_lists(min_size=2), st.data())
def test_deleted_row_is_caught(fields: list[tuple[Field, ...]], data: st.DataObject) -> None:
    rows, head = build(fields)
    n = len(rows)
    i = data.draw(st.integers(0, n - 1))
    del rows[i]
    result = verify_chain(rows, head)
    assert not result.ok
    assert result.first_bad_seq == i + 1
    if i == n - 1:
        assert result.reason == f"rows {n} to {n} were removed from the end"
    else:
        assert result.reason == f"row {i + 1} is missing (next row is {i + 2})"


def test_deleted_first_middle_last() -> None:
    rows, head = build([(str(k),) for k in range(5)])
    assert verify_chain(rows[1:], head).first_bad_seq == 1
    assert verify_chain(rows[:2] + rows[3:], head).first_bad_seq == 3
    last = verify_chain(rows[:4], head)
    assert last.first_bad_seq == 5
    assert last.head == ChainHead(4, rows[3].hash)


@FAST
@given(field_lists(min_size=2), st.data())
def test_truncated_tail_is_caught_by_the_head(
    fields: list[tuple[Field, ...]], data: st.DataObject
) -> None:
    rows, head = build(fields)
    keep = data.draw(st.integers(0, len(rows) - 1))
    result = verify_chain(rows[:keep], head)
    assert not result.ok
    assert result.first_bad_seq == keep + 1
    assert result.checked == keep


# -- insertions -----------------------------------------------------------------


@FAST
@given(field_lists(), st.data())
def test_inserted_forged_row_is_caught(
    fields: list[tuple[Field, ...]], data: st.DataObject
) -> None:
    """A forged row with a correct hash for its place, slipped in before row
    ``p + 1`` (or after the last): seq ``p + 1`` then appears twice, or rows
    follow the head."""
    rows, head = build(fields)
    p = data.draw(st.integers(0, len(rows)))
    prev = rows[p - 1].hash if p else GENESIS_HASH
    forged = forge(p + 1, prev, tuple(data.draw(field_values) for _ in fields[0]))
    rows.insert(p, forged)
    result = verify_chain(rows, head)
    assert not result.ok
    assert result.first_bad_seq == p + 1
    if p == len(fields):
        assert result.reason == f"rows after {p} were added without moving the chain head"
    else:
        assert result.reason == f"row {p + 1} appears out of order or twice"


@FAST
@given(field_lists(), st.data())
def test_inserted_row_with_renumbered_tail_is_caught(
    fields: list[tuple[Field, ...]], data: st.DataObject
) -> None:
    """The forger renumbers the rows after the forged one; their links break."""
    rows, head = build(fields)
    p = data.draw(st.integers(0, len(rows) - 1))
    prev = rows[p - 1].hash if p else GENESIS_HASH
    forged = forge(p + 1, prev, tuple(data.draw(field_values) for _ in fields[0]))
    assume(forged.hash != rows[p].hash)
    tail = [replace(r, seq=r.seq + 1) for r in rows[p:]]
    result = verify_chain([*rows[:p], forged, *tail], head)
    assert not result.ok
    assert result.first_bad_seq == p + 2


# -- swaps ----------------------------------------------------------------------


@FAST
@given(field_lists(min_size=2), st.data())
def test_swapped_contents_are_caught(fields: list[tuple[Field, ...]], data: st.DataObject) -> None:
    rows, head = build(fields)
    i = data.draw(st.integers(0, len(rows) - 2))
    j = data.draw(st.integers(i + 1, len(rows) - 1))
    assume(rows[i].fields != rows[j].fields)
    rows[i], rows[j] = (
        replace(rows[i], fields=rows[j].fields),
        replace(rows[j], fields=rows[i].fields),
    )
    result = verify_chain(rows, head)
    assert not result.ok
    assert result.first_bad_seq == i + 1


@FAST
@given(field_lists(min_size=2), st.data())
def test_swapped_rows_are_caught(fields: list[tuple[Field, ...]], data: st.DataObject) -> None:
    """Whole rows exchanged, each keeping its seq and hashes, or each taking the
    other's position number: both are caught at the first of the two."""
    rows, head = build(fields)
    i = data.draw(st.integers(0, len(rows) - 2))
    j = data.draw(st.integers(i + 1, len(rows) - 1))
    in_wrong_order = list(rows)
    in_wrong_order[i], in_wrong_order[j] = rows[j], rows[i]
    assert verify_chain(in_wrong_order, head).first_bad_seq == i + 1
    renumbered = list(rows)
    renumbered[i] = replace(rows[j], seq=i + 1)
    renumbered[j] = replace(rows[i], seq=j + 1)
    result = verify_chain(renumbered, head)
    assert not result.ok
    assert result.first_bad_seq == i + 1


# -- the head -------------------------------------------------------------------


def test_missing_head_with_rows() -> None:
    rows, _ = build([("a",), ("b",)])
    result = verify_chain(rows, None)
    assert not result.ok
    assert result.first_bad_seq == 1
    assert result.reason == "the chain head is missing"


@FAST
@given(field_lists(), st.data())
def test_head_moved_back_is_caught(fields: list[tuple[Field, ...]], data: st.DataObject) -> None:
    """Head reset to an earlier row: the rows after it are not covered by it."""
    rows, _ = build(fields)
    k = data.draw(st.integers(0, len(rows) - 1))
    moved = ChainHead(k, rows[k - 1].hash if k else GENESIS_HASH)
    result = verify_chain(rows, moved)
    assert not result.ok
    assert result.first_bad_seq == k + 1


@FAST
@given(field_lists(), st.data())
def test_head_with_wrong_hash_names_its_row(
    fields: list[tuple[Field, ...]], data: st.DataObject
) -> None:
    rows, _ = build(fields)
    k = data.draw(st.integers(1, len(rows)))
    wrong = ChainHead(k, "f" * 64)
    assume(wrong.hash != rows[k - 1].hash)
    result = verify_chain(rows, wrong)
    assert not result.ok
    assert result.first_bad_seq == k
    assert result.reason == f"row {k} does not match the chain head"


def test_head_beyond_the_rows() -> None:
    rows, head = build([("a",), ("b",)])
    result = verify_chain(rows, ChainHead(5, head.hash))
    assert not result.ok
    assert result.first_bad_seq == 3
    assert result.reason == "rows 3 to 5 were removed from the end"


# -- anchored heads -------------------------------------------------------------


@FAST
@given(field_lists(), st.data())
def test_earlier_anchor_still_verifies_after_appends(
    fields: list[tuple[Field, ...]], data: st.DataObject
) -> None:
    """An anchor recorded at any earlier time stays valid as the chain grows."""
    rows, head = build(fields)
    k = data.draw(st.integers(0, len(rows)))
    anchor = ChainHead(k, rows[k - 1].hash if k else GENESIS_HASH)
    result = verify_chain(rows, head, expected_head=anchor)
    assert result.ok, result.reason


@FAST
@given(field_lists(), st.data())
def test_rewritten_chain_is_caught_by_the_anchor(
    fields: list[tuple[Field, ...]], data: st.DataObject
) -> None:
    """An attacker rewrites row ``k`` onwards with valid hashes and a new head:
    only the anchor recorded earlier shows it."""
    rows, _ = build(fields)
    k = data.draw(st.integers(1, len(rows)))
    anchor = ChainHead(len(rows), rows[-1].hash)
    rewritten = list(fields)
    rewritten[k - 1] = tuple(data.draw(different(v)) for v in fields[k - 1])
    new_rows, new_head = build(rewritten)
    assert verify_chain(new_rows, new_head).ok
    result = verify_chain(new_rows, new_head, expected_head=anchor)
    assert not result.ok
    assert result.first_bad_seq == len(rows)
    assert result.reason == f"row {len(rows)} differs from the anchored head"


def test_anchor_beyond_the_chain() -> None:
    rows, head = build([("a",), ("b",)])
    result = verify_chain(rows, head, expected_head=ChainHead(4, "e" * 64))
    assert not result.ok
    assert result.first_bad_seq == 3


# -- the encoding ---------------------------------------------------------------


@FAST
@given(st.lists(field_values, max_size=6), st.lists(field_values, max_size=6))
def test_encoding_is_unambiguous(a: list[Field], b: list[Field]) -> None:
    """Different field tuples never encode to the same bytes."""
    assume(a != b)
    assert encode_fields(a) != encode_fields(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("ab", "c"), ("a", "bc")),
        (("1",), (1,)),
        ((None,), ("n;",)),
        ((b"\x01",), ("01",)),
        ((b"ab",), ("6162",)),
        (("",), ()),
        (("", ""), ("",)),
        (("s1:a",), ("s", "a")),
        ((12,), (1, 2)),
        (("é",), ("e\u0301",)),
    ],
)
def test_classic_collisions_do_not_happen(a: tuple[Field, ...], b: tuple[Field, ...]) -> None:
    assert encode_fields(a) != encode_fields(b)
    assert row_hash(1, GENESIS_HASH, a) != row_hash(1, GENESIS_HASH, b)


@FAST
@given(st.lists(field_values, max_size=4), st.integers(1, 10**6), st.integers(1, 10**6))
def test_hash_binds_the_position(values: list[Field], seq_a: int, seq_b: int) -> None:
    assume(seq_a != seq_b)
    assert row_hash(seq_a, GENESIS_HASH, values) != row_hash(seq_b, GENESIS_HASH, values)
    assert row_hash(seq_a, GENESIS_HASH, values) != row_hash(seq_a, "1" * 64, values)


# -- the faster verifiers give the same verdict -------------------------------------


def material(rows: Sequence[ChainRow]) -> list[tuple[int, str, str, str | None]]:
    """Rows as a store that builds the hashed text hands them over."""
    return [(r.seq, r.prev_hash, r.hash, row_material(r.seq, r.prev_hash, r.fields)) for r in rows]


def fields_reader(rows: Sequence[ChainRow]) -> Callable[[int], Sequence[Field] | None]:
    by_seq = {r.seq: r.fields for r in rows}
    return by_seq.get


@st.composite
def tampered_chains(
    draw: st.DrawFn,
) -> tuple[list[ChainRow], ChainHead | None, ChainHead | None]:
    """A chain, perhaps edited the ways the tests above edit one, sorted by
    ``seq`` as a store returns it, with its head and perhaps an anchor."""
    rows, head = build(draw(field_lists(min_size=1, max_size=10)))
    anchor = None
    if draw(st.booleans()):
        pick = rows[draw(st.integers(0, len(rows) - 1))]
        anchor = ChainHead(pick.seq, pick.hash)
    i = draw(st.integers(0, len(rows) - 1))
    edit = draw(
        st.sampled_from(
            ["none", "field", "hash", "prev", "delete", "swap", "forge", "head", "renumber"]
        )
    )
    target = rows[i]
    if edit == "field" and target.fields:
        values = list(target.fields)
        values[0] = draw(different(values[0]))
        rows[i] = replace(target, fields=tuple(values))
    elif edit == "hash":
        rows[i] = replace(target, hash="f" * 64)
    elif edit == "prev":
        rows[i] = replace(target, prev_hash="e" * 64)
    elif edit == "delete":
        del rows[i]
    elif edit == "swap" and len(rows) > 1:
        j = (i + 1) % len(rows)
        rows[i], rows[j] = (
            replace(rows[j], seq=rows[i].seq),
            replace(rows[i], seq=rows[j].seq),
        )
    elif edit == "forge":
        rows.append(forge(len(rows) + 1, rows[-1].hash, ("forged",)))
    elif edit == "head":
        head = None if draw(st.booleans()) else ChainHead(max(head.seq - 1, 0), rows[0].hash)
    elif edit == "renumber":
        rows[i] = replace(target, seq=target.seq + 7)
    rows.sort(key=lambda r: r.seq)
    return rows, head, anchor


def segmented(
    rows: Sequence[ChainRow],
    head: ChainHead | None,
    anchor: ChainHead | None,
    bounds: Sequence[int],
) -> VerifyResult:
    """What a store that checks stretches apart does: rows up to the head in
    stretches ending at ``bounds``, the rest as the tail."""
    top = head.seq if head is not None else 0
    edges = sorted({0, *(b for b in bounds if 0 < b < top), top})
    watched = [h.seq for h in (head, anchor) if h is not None]
    read = fields_reader(rows)
    segments = [
        check_segment(
            material([r for r in rows if low < r.seq <= high]), fields_of=read, watched=watched
        )
        for low, high in itertools.pairwise(edges)
    ]
    tail = material([r for r in rows if r.seq > top])
    return verify_segments(segments, tail, head, fields_of=read, expected_head=anchor)


@settings(max_examples=150, deadline=None)
@given(tampered_chains(), st.lists(st.integers(1, 12), max_size=3))
def test_material_and_segmented_verification_agree_with_the_reference(
    chain: tuple[list[ChainRow], ChainHead | None, ChainHead | None], bounds: list[int]
) -> None:
    rows, head, anchor = chain
    reference = verify_chain(rows, head, expected_head=anchor)
    read = fields_reader(rows)
    assert verify_material_chain(material(rows), head, fields_of=read, expected_head=anchor) == (
        reference
    )
    assert segmented(rows, head, anchor, bounds) == reference


def test_a_material_the_store_could_not_build_is_judged_by_the_fields() -> None:
    """A store gives None (or text that does not hash right) for a value it
    cannot encode; the row's own fields decide, so that costs time, never a
    false verdict either way."""
    rows, head = build([("a\x00b", 1), ("c", None)])
    built = material(rows)
    unbuilt = [(seq, prev, digest, None) for seq, prev, digest, _ in built]
    wrong = [(seq, prev, digest, text + "x") for seq, prev, digest, text in built]
    read = fields_reader(rows)
    for given_rows in (unbuilt, wrong):
        assert verify_material_chain(given_rows, head, fields_of=read).ok
    edited = [rows[0], replace(rows[1], fields=("d", None))]
    result = verify_material_chain(unbuilt, head, fields_of=fields_reader(edited))
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_row_material_is_what_row_hash_hashes() -> None:
    for values in [("a", None, 3, b"\x00\xff", True, "ā😀", -5), (), ("",)]:
        text = row_material(9, "ab" * 32, values)
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == row_hash(9, "ab" * 32, values)

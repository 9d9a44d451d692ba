"""Legal holds split per row: the last day of a hold by the calendar in the
controller's time zone, the anchor column found through relations, the plan
saying what happens once a row's hold has ended, and rows sorted by their
fate. Korte's hold (no anchor column) keeps every row with no end date."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Column, String
from tests.unit.shop_plans import policy as _policy
from tests.unit.shop_plans import schema as _schema

from datasteward.connectors.writes import split_by_holds
from datasteward.fulfilment.holds import (
    AnchorPath,
    AnchorStep,
    HoldRef,
    RowHold,
    find_anchor,
    local_day_of,
)
from datasteward.fulfilment.operators import DeleteRow, KeyedHash, Operator
from datasteward.fulfilment.plan import PlanKind, build_plan
from datasteward.legaltime.duration import IsoDuration
from datasteward.policy import load_policy_file

ROOT = Path(__file__).resolve().parents[2]
RIGA = ZoneInfo("Europe/Riga")
KEY = bytes(range(32))


def _ref(period: str = "P5Y", column: str | None = "created_at") -> HoldRef:
    return HoldRef(
        hold_id="latvian-accounting-law",
        law="Latvian Accounting Law",
        article="Art. 17(3)(b) GDPR",
        period=IsoDuration.parse(period),
        anchor_event="contract_ended",
        anchor_column=column,
    )


def _hold(
    today: date,
    fields: tuple[tuple[str, Operator], ...] = (("total", DeleteRow("total")),),
    period: str = "P5Y",
) -> RowHold:
    return RowHold(_ref(period), AnchorPath("orders", "created_at"), fields, today, RIGA)


# -- the calendar ----------------------------------------------------------------------------


def test_the_hold_runs_through_the_same_day_five_years_on() -> None:
    hold = _hold(date(2026, 3, 2))
    assert hold.last_day(date(2021, 3, 2)) == date(2026, 3, 2)
    assert not hold.ended(date(2026, 3, 2))  # kept through its last day
    assert hold.ended(date(2026, 3, 1))
    assert hold.last_day(date(2020, 2, 29)) == date(2025, 2, 28)  # clamped to February's end


def test_a_naive_time_is_utc_and_the_day_is_the_controllers() -> None:
    hold = _hold(date(2026, 3, 2))
    # 23:30 UTC on 1 March is already 2 March in Riga
    assert hold.last_day(datetime(2021, 3, 1, 23, 30)) == date(2026, 3, 2)
    assert hold.last_day(datetime(2021, 3, 1, 21, 30)) == date(2026, 3, 1)
    aware = datetime(2021, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert hold.last_day(aware) == date(2026, 3, 2)
    assert hold.last_day("2021-03-01 23:30:00.000000") == date(2026, 3, 2)


def test_an_empty_or_unreadable_anchor_keeps_the_row_with_no_end() -> None:
    hold = _hold(date(2026, 3, 2))
    for value in (None, "not a date", 42):
        assert hold.last_day(value) is None
        assert not hold.ended(None)


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31)))
def test_the_last_day_is_the_calendar_sum_of_the_local_day(moment: datetime) -> None:
    local = moment.replace(tzinfo=UTC).astimezone(RIGA).date()
    year = local.year + 5  # the same day five years on, or the last day of a short month
    expected = date(year, local.month, min(local.day, calendar.monthrange(year, local.month)[1]))
    hold = _hold(date(2030, 1, 1))
    assert local_day_of(moment, RIGA) is not None
    assert hold.last_day(moment) == expected


# -- where the anchor is ---------------------------------------------------------------------


def test_the_anchor_is_found_in_the_dataset_or_through_its_relations() -> None:
    system = _policy().systems[0]
    schema = _schema(_policy())["shop"]

    def columns(name: str) -> Any:
        return schema.get(name)

    assert find_anchor(system, "orders", "created_at", columns) == AnchorPath(
        "orders", "created_at"
    )
    items = find_anchor(system, "order_items", "created_at", columns)
    assert items == AnchorPath("orders", "created_at", (AnchorStep("order_id", "orders", "id"),))
    assert items.describe() == "order_id -> orders.created_at"
    assert find_anchor(system, "order_items", "no_such_column", columns) is None


def test_the_erasure_plan_splits_held_rows_and_says_what_happens_after() -> None:
    policy = _policy()
    plan = build_plan(policy, PlanKind.ERASURE, {"email"}, schema=_schema(policy))
    assert plan.ok, plan.problems
    by_name = {d.dataset: d for s in plan.systems for d in s.datasets}
    orders = by_name["orders"]
    (hold,) = orders.holds
    assert hold.anchor == AnchorPath("orders", "created_at")
    assert hold.row_action == "delete"  # billing_name is declared keep: it goes with its row
    after = {f.name: f.after_hold for f in orders.fields}
    assert after == {
        "billing_name": "delete_row",
        "billing_email": "keyed_hash",
        "created_at": "delete_row",
        "total": "delete_row",
    }
    assert "per row" in orders.fields[0].explanation
    (items,) = by_name["order_items"].holds
    assert items.anchor is not None and items.anchor.describe() == "order_id -> orders.created_at"
    data = orders.to_dict()
    assert data["holds"][0]["per_row"] is True  # type: ignore[index]


def test_an_anchor_column_nowhere_to_be_found_is_a_plan_problem() -> None:
    policy = _policy()
    schema = _schema(policy)
    del schema["shop"]["orders"]["created_at"]
    plan = build_plan(policy, PlanKind.ERASURE, {"email"}, schema=schema)
    assert not plan.ok
    assert any(
        "orders: legal hold 'latvian-accounting-law' runs from column 'created_at'" in p
        for p in plan.problems
    )


def _korte_hold(data: dict[str, Any]) -> None:
    """The shop with the legal hold written the way Korte's policy writes it:
    the law and its period, anchored on an event with no column."""
    korte = yaml.safe_load((ROOT / "examples" / "korte" / "policy.yaml").read_text("utf-8"))
    (hold,) = korte["legal_holds"]
    assert "column" not in hold["anchor"]
    data["legal_holds"][0]["anchor"] = dict(hold["anchor"])
    data["legal_holds"][0]["period"] = hold["period"]


def test_a_hold_without_anchor_column_keeps_every_row_with_no_end_date() -> None:
    korte = load_policy_file(ROOT / "examples" / "korte" / "policy.yaml").policy
    assert korte.systems == []  # Korte declares no systems: nothing of it maps to a database
    policy = _policy(_korte_hold)
    plan = build_plan(policy, PlanKind.ERASURE, {"email"}, schema=_schema(policy))
    assert plan.ok, plan.problems
    orders = next(d for s in plan.systems for d in s.datasets if d.dataset == "orders")
    (hold,) = orders.holds
    assert hold.anchor is None
    assert all(f.after_hold is None for f in orders.fields)
    assert "no end date is known" in orders.fields[0].explanation


# -- rows sorted by their fate ---------------------------------------------------------------

KEYS = [Column("id", BigInteger)]


def test_rows_past_the_hold_go_and_the_others_stay_with_their_last_day() -> None:
    today = date(2026, 11, 2)
    hold = _hold(today)
    rows = iter(
        [
            (1, datetime(2020, 5, 1)),  # ended 2025-05-01
            (2, datetime(2021, 11, 1, 12)),  # last day 2026-11-01: ended yesterday
            (3, datetime(2021, 11, 2, 12)),  # last day today: still held
            (4, datetime(2024, 6, 30)),
            (5, None),  # the event has not happened
        ]
    )
    split = split_by_holds(rows, 1, KEYS, [hold], range(0), [[]])
    assert list(split.deleted) == [1, 2]
    assert split.updates == {}
    assert split.matched == 5
    (held,) = split.held
    assert (held.rows_kept, held.rows_released, held.undated) == (3, 2, 1)
    assert (held.kept_from, held.kept_until) == (date(2026, 11, 2), date(2029, 6, 30))


def test_fields_with_their_own_action_are_erased_in_place_once_free() -> None:
    today = date(2026, 11, 2)
    hold = _hold(today, (("billing_email", KeyedHash("billing_email", KEY)),))
    rows = iter([(1, datetime(2019, 1, 1)), (2, datetime(2025, 1, 1)), (3, datetime(2018, 1, 1))])
    split = split_by_holds(rows, 1, KEYS, [hold], [0], [[1]])
    assert list(split.deleted) == []
    assert {k: list(v) for k, v in split.updates.items()} == {
        frozenset({0, 1}): [1, 3],
        frozenset({0}): [2],
    }
    assert split.held[0].rows_released == 2


def test_a_row_another_hold_still_keeps_is_not_deleted() -> None:
    today = date(2026, 11, 2)
    short = _hold(today, period="P1Y")
    long = RowHold(
        _ref("P10Y"),
        AnchorPath("orders", "created_at"),
        (("billing_name", DeleteRow("billing_name")),),
        today,
        RIGA,
    )
    rows = iter([("a", 1, datetime(2020, 1, 1), datetime(2020, 1, 1))])
    split = split_by_holds(
        rows, 2, [Column("k", String), Column("n", BigInteger)], [short, long], [], [[], []]
    )
    assert list(split.deleted) == []
    assert [h.rows_kept for h in split.held] == [1, 1]
    assert split.held[0].kept_until == date(2030, 1, 1)  # until the longer hold lets it go


@pytest.mark.parametrize("period", ["P5Y", "P1M", "P7D"])
def test_a_hold_never_ends_before_its_last_day(period: str) -> None:
    anchor = date(2024, 1, 31)
    for offset in range(-3, 4):
        hold = _hold(
            IsoDuration.parse(period).add_to(anchor) + timedelta(days=offset), period=period
        )
        assert hold.ended(hold.last_day(anchor)) is (offset > 0)

"""The request state machine: every listed move works, everything else is
refused with the state and what is allowed."""

from __future__ import annotations

import pytest

from datasteward.errors import Conflict
from datasteward.requests.lifecycle import ACTIONS, IllegalTransition, allowed_actions, next_state
from datasteward.requests.model import CLOSED_STATES, OPEN_STATES, RequestState
from datasteward.requests.verification import (
    MAX_ATTEMPTS,
    Assurance,
    CodeCheck,
    CodeState,
    check_code,
    new_code,
)

S = RequestState


def test_happy_path() -> None:
    state = S.RECEIVED
    for action, expected in [
        ("ask_identity", S.AWAITING_IDENTITY),
        ("verify", S.VERIFIED),
        ("start", S.IN_PROGRESS),
        ("attention", S.NEEDS_ATTENTION),
        ("start", S.IN_PROGRESS),
        ("complete", S.COMPLETED),
    ]:
        state = next_state("r1", state, action)
        assert state is expected


@pytest.mark.parametrize("state", sorted(CLOSED_STATES))
@pytest.mark.parametrize("action", ["verify", "start", "complete", "refuse", "cancel", "extend"])
def test_closed_requests_cannot_move(state: RequestState, action: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_state("r1", state, action)
    assert isinstance(caught.value, Conflict)
    assert "closed" in caught.value.message and state.value in caught.value.message


def test_nothing_runs_before_identity_is_established() -> None:
    for state in (S.RECEIVED, S.AWAITING_IDENTITY):
        with pytest.raises(IllegalTransition, match="allowed now"):
            next_state("r1", state, "start")
        with pytest.raises(IllegalTransition):
            next_state("r1", state, "complete")


def test_every_open_state_can_be_refused_cancelled_and_extended() -> None:
    for state in OPEN_STATES:
        assert next_state("r1", state, "refuse") is S.REFUSED
        assert next_state("r1", state, "cancel") is S.CANCELLED
        assert next_state("r1", state, "extend") is state
        assert {"refuse", "cancel", "extend"} <= set(allowed_actions(state))


def test_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown request action"):
        next_state("r1", S.RECEIVED, "teleport")
    assert "note" in ACTIONS


def state_of(**changes: object) -> CodeState:
    from datetime import UTC, datetime

    base = {
        "code_hash": "abc",
        "expires_at": datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        "attempts": 0,
        "locked": False,
        "used": False,
    }
    base.update(changes)
    return CodeState(**base)  # type: ignore[arg-type]


def test_code_checks() -> None:
    from datetime import UTC, datetime

    before = datetime(2026, 3, 2, 9, 59, tzinfo=UTC)
    after = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert check_code(state_of(), "abc", before) is CodeCheck.OK
    assert check_code(state_of(), "abd", before) is CodeCheck.WRONG
    assert check_code(state_of(), "abc", after) is CodeCheck.EXPIRED
    assert check_code(state_of(used=True), "abc", before) is CodeCheck.USED
    assert check_code(state_of(locked=True), "abc", before) is CodeCheck.LOCKED
    assert check_code(state_of(attempts=MAX_ATTEMPTS), "abc", before) is CodeCheck.LOCKED


def test_codes_are_six_digits_and_vary() -> None:
    codes = {new_code() for _ in range(50)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 40


def test_assurance_vocabulary() -> None:
    assert Assurance.from_policy("email_code") is Assurance.EMAIL_CODE
    assert Assurance.from_policy("document") is Assurance.STAFF
    assert Assurance.from_policy("something-new") is Assurance.STAFF

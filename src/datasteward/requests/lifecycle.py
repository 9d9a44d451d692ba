"""Which action may move a request from which state to which (Art. 12). Pure.

The table is the whole state machine: an action not listed for the current
state is refused with :class:`IllegalTransition`, naming the state and what
would be allowed, and nothing is written.

::

    received ──verify──────────────► verified ──start──► in_progress ──complete──► completed
       │  └─ask_identity─► awaiting_identity ─verify─┘        │  ▲
       │                      (code sent, more info asked)    ▼  │ resume
       │                                                  needs_attention ─complete─► completed
       └── any open state ──refuse──► refused   ·   any open state ──cancel──► cancelled

Extending the deadline and charging a fee change no state; they are allowed
while a request is open and are guarded by their own rules in the service.
"""

from __future__ import annotations

from datasteward.errors import Conflict
from datasteward.requests.model import CLOSED_STATES, OPEN_STATES, RequestState

__all__ = ["ACTIONS", "IllegalTransition", "allowed_actions", "next_state"]

S = RequestState

ACTIONS: dict[str, dict[RequestState, RequestState]] = {
    "ask_identity": {
        S.RECEIVED: S.AWAITING_IDENTITY,
        S.AWAITING_IDENTITY: S.AWAITING_IDENTITY,
        S.VERIFIED: S.AWAITING_IDENTITY,
    },
    "verify": {S.RECEIVED: S.VERIFIED, S.AWAITING_IDENTITY: S.VERIFIED},
    "start": {S.VERIFIED: S.IN_PROGRESS, S.NEEDS_ATTENTION: S.IN_PROGRESS},
    "attention": {S.IN_PROGRESS: S.NEEDS_ATTENTION, S.NEEDS_ATTENTION: S.NEEDS_ATTENTION},
    "complete": {
        S.VERIFIED: S.COMPLETED,
        S.IN_PROGRESS: S.COMPLETED,
        S.NEEDS_ATTENTION: S.COMPLETED,
    },
    "refuse": {state: S.REFUSED for state in OPEN_STATES},
    "cancel": {state: S.CANCELLED for state in OPEN_STATES},
    "extend": {state: state for state in OPEN_STATES},
    "fee": {state: state for state in OPEN_STATES},
    "note": {state: state for state in RequestState},
}


class IllegalTransition(Conflict):
    """The request's state does not allow the action."""

    code = "illegal_transition"

    def __init__(self, request_id: str, state: RequestState, action: str) -> None:
        allowed = allowed_actions(state)
        hint = f"; allowed now: {', '.join(allowed)}" if allowed else ""
        closed = " (the request is closed)" if state in CLOSED_STATES else ""
        super().__init__(
            f"request {request_id} is {state.value}{closed}: cannot {action.replace('_', ' ')}"
            f"{hint}"
        )
        self.state = state
        self.action = action


def next_state(request_id: str, state: RequestState, action: str) -> RequestState:
    """The state ``action`` leads to from ``state``, or IllegalTransition."""
    targets = ACTIONS.get(action)
    if targets is None:
        raise ValueError(f"unknown request action {action!r}")
    if state not in targets:
        raise IllegalTransition(request_id, state, action)
    return targets[state]


def allowed_actions(state: RequestState) -> list[str]:
    """Actions possible in ``state`` (``note`` left out: it always is)."""
    return sorted(a for a, targets in ACTIONS.items() if state in targets and a != "note")

"""Data subject requests: the state machine, legal deadlines, identity
verification, the request desk and the work that carries requests out.

See docs/requests.md."""

from datasteward.requests.lifecycle import IllegalTransition
from datasteward.requests.model import (
    CLOSED_STATES,
    OPEN_STATES,
    RefusalGround,
    Request,
    RequestEvent,
    RequestState,
    RequestType,
    Task,
    TaskKind,
    TaskState,
)
from datasteward.requests.service import RequestDesk, RequestView, VerificationFailed
from datasteward.requests.verification import Assurance
from datasteward.requests.work import RequestWork, TaskOutcome, TaskRunner

__all__ = [
    "CLOSED_STATES",
    "OPEN_STATES",
    "Assurance",
    "IllegalTransition",
    "RefusalGround",
    "Request",
    "RequestDesk",
    "RequestEvent",
    "RequestState",
    "RequestType",
    "RequestView",
    "RequestWork",
    "Task",
    "TaskKind",
    "TaskOutcome",
    "TaskRunner",
    "TaskState",
    "VerificationFailed",
]

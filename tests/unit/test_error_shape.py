"""One error body everywhere: every deliberate error renders to the same shape."""

from __future__ import annotations

import json

import pytest

import datasteward.documents
import datasteward.fulfilment
import datasteward.fulfilment.service
import datasteward.notify.senders
import datasteward.packages
import datasteward.requests.lifecycle
import datasteward.requests.service
from datasteward import errors
from datasteward.errors import (
    InvalidIdentity,
    Location,
    NotFound,
    PolicyLintFailed,
    PolicyLoadError,
    Problem,
    StewardError,
    UsageError,
    error_body,
)

PROBLEM_KEYS = {"message", "path", "file", "line", "column"}


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def _instance(cls: type[StewardError]) -> StewardError:
    if issubclass(cls, PolicyLoadError):
        return cls([Problem("bad", "purposes[0]", Location("p.yaml", 3, 7))])
    if issubclass(cls, InvalidIdentity):
        return cls("email", "'ana@@example' is not an email address")
    if issubclass(cls, datasteward.fulfilment.OperatorError):
        return cls("ip_address", "str", action="truncate_ip", reason="not an IP address")
    if issubclass(cls, datasteward.fulfilment.service.PlanRefused):
        from datasteward.fulfilment.plan import Plan, PlanKind

        return cls(Plan(PlanKind.ERASURE))
    if issubclass(cls, datasteward.requests.lifecycle.IllegalTransition):
        from datasteward.requests.model import RequestState

        return cls("0d6f6d52", RequestState.COMPLETED, "cancel")
    if issubclass(cls, datasteward.requests.service.VerificationFailed):
        from datasteward.requests.verification import CodeCheck

        return cls("wrong code; 4 attempt(s) left", CodeCheck.WRONG, 4)
    if issubclass(cls, NotFound):
        return cls("purpose", "newsleter", " (did you mean 'newsletter'?)")
    return cls("something precise went wrong")


@pytest.mark.parametrize(
    "cls", sorted(_all_subclasses(StewardError) | {StewardError}, key=lambda c: c.__name__)
)
def test_every_error_has_the_one_shape(cls: type[StewardError]) -> None:
    body = error_body(_instance(cls))
    json.dumps(body)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "problems"}
    inner = body["error"]
    assert isinstance(inner, dict)
    assert isinstance(inner["code"], str) and inner["code"]
    assert inner["problems"], "at least one problem"
    for problem in inner["problems"]:
        assert set(problem) == PROBLEM_KEYS


def test_load_error_carries_location() -> None:
    body = error_body(PolicyLoadError([Problem("bad", "x", Location("p.yaml", 3, 7))]))
    problem = body["error"]["problems"][0]
    assert (problem["file"], problem["line"], problem["column"]) == ("p.yaml", 3, 7)
    assert body["error"]["message"] == "p.yaml:3:7: x: bad"


def test_exit_codes_are_the_documented_ones() -> None:
    assert PolicyLoadError.exit_code == errors.EXIT_UNUSABLE == 2
    assert PolicyLintFailed.exit_code == errors.EXIT_FINDINGS == 1
    assert UsageError.exit_code == 2


def test_load_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        PolicyLoadError([])

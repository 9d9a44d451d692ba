"""The request desk: receiving data subject requests, establishing identity,
and every staff decision on a request (extend, refuse, charge a fee, ask for
more information, cancel, decide an objection).

Each use case reads the request, checks the transition against
:mod:`~datasteward.requests.lifecycle`, validates its input, and then writes
the new state, a history line, an audit event and the notice the person must
get, all in one engine transaction, guarded by the request's version: bad
input or a concurrent change writes nothing. Carrying the request out in the
company's systems is :mod:`~datasteward.requests.work`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from datasteward.clock import Clock
from datasteward.consent.model import Objection, ObjectionScope, ObjectionStatus
from datasteward.crypto import Keyring
from datasteward.errors import Conflict, InvalidInput, KeyUnavailable, NotFound
from datasteward.identity import Identity
from datasteward.legaltime.deadlines import deadlines, zone
from datasteward.legaltime.duration import IsoDuration
from datasteward.legaltime.instants import format_time, parse_time
from datasteward.policy.active import ActivePolicy, ActivePolicyCache
from datasteward.policy.model import RightKind
from datasteward.policy.references import did_you_mean
from datasteward.ports import EngineStore, EngineTx
from datasteward.requests.lifecycle import next_state
from datasteward.requests.model import (
    OPEN_STATES,
    Flag,
    RefusalGround,
    Request,
    RequestEvent,
    RequestState,
    RequestType,
    Task,
)
from datasteward.requests.ports import Notices, RequestRows
from datasteward.requests.records import (
    event_from_row,
    open_details,
    request_from_row,
    seal_details,
    task_from_row,
)
from datasteward.requests.verification import (
    CODE_LIFETIME,
    MAX_ATTEMPTS,
    Assurance,
    CodeCheck,
    CodeState,
    check_code,
    new_code,
)
from datasteward.subjects.service import SubjectDirectory

__all__ = ["CODE_INDEX_KIND", "RequestDesk", "RequestView", "VerificationFailed"]

CODE_INDEX_KIND = "verification-code"
"""Blind-index namespace verification codes are hashed in."""

RIGHT_OF = {
    RequestType.ACCESS: RightKind.ACCESS,
    RequestType.RECTIFICATION: RightKind.RECTIFICATION,
    RequestType.ERASURE: RightKind.ERASURE,
    RequestType.RESTRICTION: RightKind.RESTRICTION,
    RequestType.PORTABILITY: RightKind.PORTABILITY,
    RequestType.OBJECTION: RightKind.OBJECTION,
    RequestType.WITHDRAW_CONSENT: RightKind.WITHDRAW_CONSENT,
}


class VerificationFailed(Conflict):
    """A verification code was wrong, expired, used or locked."""

    code = "verification_failed"

    def __init__(self, message: str, outcome: CodeCheck, attempts_left: int) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.attempts_left = attempts_left


@dataclass(frozen=True)
class RequestView:
    """A request with its history and tasks, as ``request show`` prints it."""

    request: Request
    history: list[RequestEvent]
    tasks: list[Task]

    def to_dict(self, tz: tzinfo = UTC) -> dict[str, Any]:
        return {
            **self.request.to_dict(tz),
            "history": [e.to_dict() for e in self.history],
            "tasks": [t.to_dict() for t in self.tasks],
        }


class RequestDesk:
    """Request use cases over the engine store."""

    def __init__(
        self,
        store: EngineStore,
        rows: Callable[[EngineTx], RequestRows],
        directory: SubjectDirectory,
        keyring: Keyring,
        notices: Notices,
        clock: Clock,
    ) -> None:
        self.store = store
        self.rows = rows
        self.directory = directory
        self.keyring = keyring
        self.notices = notices
        self.clock = clock
        self.policies = ActivePolicyCache()

    # -- intake ------------------------------------------------------------------------

    def submit(
        self,
        type_: RequestType,
        identity: Identity,
        *,
        actor: str,
        channel: str = "cli",
        received_at: datetime | None = None,
        details: Mapping[str, Any] | None = None,
        assurance: Assurance | None = None,
    ) -> Request:
        """Record a request (with its real receipt time when it came on paper
        or by email), acknowledge it with its due date, and start
        verification. Withdrawal of consent and objection to direct marketing
        need no review and are applied by :class:`~datasteward.requests.work.
        RequestWork` as soon as identity allows."""
        now = self.clock.now()
        received = received_at or now
        if received.tzinfo is None:
            raise InvalidInput("the receipt time needs a time zone (or give a date)")
        if received > now:
            raise InvalidInput(f"the receipt date {received.date().isoformat()} is in the future")
        extra = dict(details or {})
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            policy = active.policy
            right = RIGHT_OF[type_]
            if right not in policy.rights.offered:
                offered = ", ".join(r.value for r in policy.rights.offered)
                raise InvalidInput(
                    f"the policy does not offer the right '{type_.value}' (offered: {offered})"
                )
            _check_details(type_, extra, active)
            tz = zone(policy.controller.time_zone)
            limits = deadlines(received, tz, policy.rights.response_period, policy.rights.extension)
            subject_id, _ = self.directory.resolve(tx, identity, actor=actor)
            request_id = str(uuid.uuid4())
            needed = assurance or _assurance(active, type_, extra)
            rows = self.rows(tx)
            flags: list[str] = []
            window = policy.rights.repeat_window
            if window is not None:
                since = _minus(received, window)
                if rows.count_recent(subject_id, type_.value, since, exclude=request_id):
                    flags.append(Flag.POSSIBLY_EXCESSIVE.value)
            extra["identity"] = {"kind": identity.kind, "value": identity.value}
            data_key = self.directory.data_key(subject_id)
            rows.insert_request(
                {
                    "id": request_id,
                    "type": type_.value,
                    "state": RequestState.RECEIVED.value,
                    "subject_id": subject_id,
                    "identity_kind": identity.kind,
                    "channel": channel,
                    "received_at": format_time(received),
                    "due_date": limits.due,
                    "extended_due_date": None,
                    "verified_at": None,
                    "assurance": needed.value,
                    "flags": json.dumps(flags),
                    "details_enc": seal_details(data_key, request_id, extra),
                    "created_by": actor,
                    "updated_at": format_time(now),
                    "closed_at": None,
                    "version": 1,
                }
            )
            request = self._load(tx, request_id)
            self._history(tx, request, "submit", None, RequestState.RECEIVED, actor, "received")
            tx.audit(
                at=now,
                actor=actor,
                action="request.received",
                object_type="request",
                object_id=request_id,
                reason=f"{type_.value} request ({type_.article}) received by {channel}",
                policy_version=active.version,
                details={
                    "type": type_.value,
                    "subject": subject_id,
                    "received_at": format_time(received),
                    "due_date": limits.due.isoformat(),
                    "assurance": needed.value,
                    "flags": flags,
                },
            )
            self.notices.to_subject(
                tx, request, "acknowledgment", {"due_date": limits.due.isoformat()}
            )
            if needed is Assurance.NONE:
                request = self._transition(
                    tx, active, request, "verify", actor, "no identity check needed", now
                )
            elif needed is Assurance.EMAIL_CODE and identity.kind == "email":
                request = self._issue_code(tx, active, request, actor, now)
            else:
                request = self._transition(
                    tx,
                    active,
                    request,
                    "ask_identity",
                    actor,
                    f"identity must be established by {needed.value}",
                    now,
                )
        return request

    # -- identity ----------------------------------------------------------------------

    def resend_code(self, request_id: str, *, actor: str) -> Request:
        """Issue a fresh code (the old one stops working), e.g. after a lock."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            request = self._load(tx, request_id)
            if request.identity_kind != "email":
                raise Conflict(
                    f"request {request_id} was made with a {request.identity_kind}: "
                    "codes go by email only; verify it by staff check instead"
                )
            return self._issue_code(tx, active, request, actor, now)

    def verify(self, request_id: str, code: str, *, actor: str) -> Request:
        """Check a one-time code. A wrong code counts an attempt (and commits
        that count) before :class:`VerificationFailed` is raised."""
        now = self.clock.now()
        offered = code.strip()
        failure: VerificationFailed | None = None
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            request = self._load(tx, request_id, for_update=True)
            next_state(request.id, request.state, "verify")
            rows = self.rows(tx)
            stored = rows.code(request_id)
            if stored is None:
                raise Conflict(f"no verification code was issued for request {request_id}")
            state = CodeState(
                code_hash=stored["code_hash"],
                expires_at=parse_time(stored["expires_at"]),
                attempts=int(stored["attempts"]),
                locked=stored["locked_at"] is not None,
                used=stored["used_at"] is not None,
            )
            outcome = check_code(
                state, self._code_hash(request_id, offered, stored["index_kid"]), now
            )
            if outcome is CodeCheck.OK:
                rows.update_code(request_id, {"used_at": format_time(now)})
                return self._transition(
                    tx, active, request, "verify", actor, "verification code confirmed", now
                )
            if outcome is CodeCheck.WRONG:
                attempts = state.attempts + 1
                values: dict[str, Any] = {"attempts": attempts}
                if attempts >= MAX_ATTEMPTS:
                    values["locked_at"] = format_time(now)
                    self._set_flag(tx, request, Flag.VERIFICATION_LOCKED, now)
                rows.update_code(request_id, values)
                tx.audit(
                    at=now,
                    actor=actor,
                    action="request.verification_failed",
                    object_type="request",
                    object_id=request_id,
                    reason=f"wrong code (attempt {attempts} of {MAX_ATTEMPTS})",
                    policy_version=active.version,
                    details={"attempts": attempts, "locked": attempts >= MAX_ATTEMPTS},
                )
                left = MAX_ATTEMPTS - attempts
                message = (
                    f"wrong code; {left} attempt(s) left"
                    if left
                    else "wrong code; the code is now locked: ask for a new one"
                )
                failure = VerificationFailed(message, outcome, left)
            else:
                failure = VerificationFailed(_CODE_MESSAGES[outcome], outcome, 0)
        raise failure

    def verify_by_staff(self, request_id: str, *, actor: str, reason: str) -> Request:
        """Staff record that they established identity by other means."""
        if not reason.strip():
            raise InvalidInput("say how identity was established (--reason)")
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            request = self._load(tx, request_id, for_update=True)
            return self._transition(tx, active, request, "verify", actor, reason.strip(), now)

    def ask_more_information(self, request_id: str, question: str, *, actor: str) -> Request:
        """Art. 12(6): reasonable doubts about identity; the person is asked
        for more, and nothing leaves the engine until it is established."""
        if not question.strip():
            raise InvalidInput("say what information is needed (--question)")
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            request = self._load(tx, request_id, for_update=True)
            updated = self._transition(
                tx, active, request, "ask_identity", actor, "more information requested", now
            )
            self.notices.to_subject(tx, updated, "more_information", {"question": question.strip()})
            return updated

    # -- staff decisions -----------------------------------------------------------------

    def extend(self, request_id: str, reason: str, *, actor: str) -> Request:
        """Art. 12(3): two further months for complex or numerous requests,
        only with reasons, only once, only before the original due date; the
        person is told at once."""
        if not reason.strip():
            raise InvalidInput("an extension needs reasons (--reason)")
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            request = self._load(tx, request_id, for_update=True)
            next_state(request.id, request.state, "extend")
            if request.extended:
                raise Conflict(f"request {request_id} was already extended")
            tz = zone(active.policy.controller.time_zone)
            today = now.astimezone(tz).date()
            if today > request.due_date:
                raise Conflict(
                    f"request {request_id} was due on {request.due_date.isoformat()}: "
                    "an extension must be decided within the first period"
                )
            start = request.verified_at if _clock_from_verification(active) else None
            limits = deadlines(
                start or request.received_at,
                tz,
                active.policy.rights.response_period,
                active.policy.rights.extension,
            )
            self._update(tx, request, {"extended_due_date": limits.extended}, now)
            updated = self._load(tx, request_id)
            self._record(
                tx,
                active,
                updated,
                "extend",
                request.state,
                actor,
                reason.strip(),
                now,
                {"extended_due_date": limits.extended.isoformat()},
            )
            self.notices.to_subject(
                tx,
                updated,
                "extension",
                {"reasons": reason.strip(), "new_due_date": limits.extended.isoformat()},
            )
            return updated

    def refuse(self, request_id: str, ground: RefusalGround, reason: str, *, actor: str) -> Request:
        """Art. 12(5)(b): refuse on a named ground with reasons; the notice
        names the supervisory authority and the right to a judicial remedy."""
        if not reason.strip():
            raise InvalidInput("a refusal needs reasons (--reason)")
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            request = self._load(tx, request_id, for_update=True)
            rights = active.policy.rights
            if ground is not RefusalGround.IDENTITY_NOT_ESTABLISHED and (
                not rights.may_refuse_unfounded_or_excessive
            ):
                raise Conflict(
                    "the policy does not refuse manifestly unfounded or excessive requests"
                )
            updated = self._transition(
                tx, active, request, "refuse", actor, f"{ground.value}: {reason.strip()}", now
            )
            self.notices.to_subject(
                tx, updated, "refusal", {"ground": ground.value, "reasons": reason.strip()}
            )
            return updated

    def charge_fee(
        self, request_id: str, amount: str, currency: str, basis: str, *, actor: str
    ) -> Request:
        """Art. 12(5)(a): a reasonable fee instead of refusing, with its basis."""
        if not basis.strip():
            raise InvalidInput("a fee needs its basis (--basis)")
        try:
            value = float(amount)
        except ValueError:
            raise InvalidInput(f"--amount must be a number, got {amount!r}") from None
        if value <= 0:
            raise InvalidInput("--amount must be positive")
        if len(currency) != 3 or not currency.isalpha():
            raise InvalidInput("--currency is a three-letter code such as EUR")
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            if active.policy.rights.fee_policy.value == "free":
                raise Conflict("the policy says requests are free of charge")
            request = self._load(tx, request_id, for_update=True)
            next_state(request.id, request.state, "fee")
            fee = {"amount": amount, "currency": currency.upper(), "basis": basis.strip()}
            self._set_details(tx, request, {"fee": fee})
            self._set_flag(tx, request, Flag.FEE_CHARGED, now)
            updated = self._load(tx, request_id)
            self._record(tx, active, updated, "fee", request.state, actor, basis.strip(), now, fee)
            self.notices.to_subject(tx, updated, "fee", fee)
            return updated

    def cancel(self, request_id: str, reason: str, *, actor: str) -> Request:
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            request = self._load(tx, request_id, for_update=True)
            why = reason.strip() or "cancelled"
            return self._transition(tx, active, request, "cancel", actor, why, now)

    def decide_objection(
        self, request_id: str, *, uphold: bool, grounds: str, actor: str
    ) -> Request:
        """Art. 21(1): staff uphold an objection, or record the compelling
        legitimate grounds that override it; the person is told either way."""
        if not uphold and not grounds.strip():
            raise InvalidInput("rejecting an objection needs the compelling grounds (--grounds)")
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            request = self._load(tx, request_id, for_update=True)
            if request.type is not RequestType.OBJECTION:
                raise Conflict(f"request {request_id} is not an objection")
            objection_id = request.details.get("objection_id")
            if request.state is not RequestState.IN_PROGRESS or not objection_id:
                raise Conflict(
                    f"request {request_id} is {request.state.value}: there is no objection "
                    "waiting for a decision"
                )
            status = ObjectionStatus.UPHELD if uphold else ObjectionStatus.REJECTED
            self.rows(tx).set_objection_status(objection_id, status.value, format_time(now))
            why = grounds.strip() or "objection upheld"
            updated = self._transition(tx, active, request, "complete", actor, why, now)
            self.notices.to_subject(
                tx, updated, "objection_decision", {"upheld": uphold, "grounds": why}
            )
            return updated

    def send_recipient_list(self, request_id: str, *, actor: str) -> Request:
        """Art. 19, last sentence: tell the person who received their data."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            active = self.policies.get(tx)
            request = self._load(tx, request_id)
            if request.state in (RequestState.RECEIVED, RequestState.AWAITING_IDENTITY):
                raise Conflict(
                    f"request {request_id} is {request.state.value}: identity must be "
                    "established before the list of recipients is sent"
                )
            self._record(
                tx,
                active,
                request,
                "note",
                request.state,
                actor,
                "list of recipients sent (Art. 19)",
                now,
            )
            self.notices.to_subject(tx, request, "recipient_list", {})
            return request

    def record_objection(
        self, tx: EngineTx, active: ActivePolicy, request: Request, *, actor: str
    ) -> Objection:
        """Record the objection a request carries (called by the work service)."""
        now = self.clock.now()
        purpose = request.details.get("purpose")
        marketing = request.details.get("scope") == ObjectionScope.DIRECT_MARKETING.value
        objection = Objection(
            ref=str(uuid.uuid4()),
            scope=ObjectionScope.DIRECT_MARKETING if marketing else ObjectionScope.PURPOSE,
            purpose_id=None if marketing else purpose,
            status=ObjectionStatus.UPHELD if marketing else ObjectionStatus.PENDING,
            at=now,
        )
        tx.insert_objection(objection, request.subject_id)
        self._set_details(tx, request, {"objection_id": objection.ref})
        return objection

    # -- reading -----------------------------------------------------------------------

    def time_zone(self) -> ZoneInfo:
        """The controller's time zone (deadlines and receipt days are in it)."""
        with self.store.reading() as tx:
            return zone(self.policies.get(tx).policy.controller.time_zone)

    def get(self, request_id: str) -> Request:
        with self.store.reading() as tx:
            return self._load(tx, request_id)

    def show(self, request_id: str) -> RequestView:
        with self.store.reading() as tx:
            request = self._load(tx, request_id)
            rows = self.rows(tx)
            history = [event_from_row(r) for r in rows.events(request_id)]
            tasks = [task_from_row(r) for r in rows.tasks_of(request_id)]
        return RequestView(request, history, tasks)

    def list_requests(
        self,
        *,
        states: Collection[RequestState] | None = None,
        extended: bool | None = None,
        limit: int = 100,
    ) -> list[Request]:
        with self.store.reading() as tx:
            rows = self.rows(tx).list_requests(
                states=[s.value for s in states] if states is not None else None,
                extended=extended,
                limit=limit,
            )
            return [self._from_row(r) for r in rows]

    def due(self, within: IsoDuration, *, limit: int = 1000) -> tuple[date, list[Request]]:
        """Open requests overdue or due on or before today + ``within`` (in
        the controller's time zone); returns (today, requests)."""
        now = self.clock.now()
        with self.store.reading() as tx:
            active = self.policies.get(tx)
            today = now.astimezone(zone(active.policy.controller.time_zone)).date()
            rows = self.rows(tx).list_requests(
                states=[s.value for s in OPEN_STATES],
                due_before=within.add_to(today),
                limit=limit,
            )
            return today, [self._from_row(r) for r in rows]

    # -- shared helpers (also used by RequestWork) --------------------------------------------

    def load(self, tx: EngineTx, request_id: str, *, for_update: bool = False) -> Request:
        return self._load(tx, request_id, for_update=for_update)

    def transition(
        self,
        tx: EngineTx,
        active: ActivePolicy,
        request: Request,
        action: str,
        actor: str,
        reason: str,
        *,
        details: Mapping[str, Any] | None = None,
    ) -> Request:
        return self._transition(
            tx, active, request, action, actor, reason, self.clock.now(), details
        )

    def set_details(self, tx: EngineTx, request: Request, changes: Mapping[str, Any]) -> None:
        self._set_details(tx, request, changes)

    def _load(self, tx: EngineTx, request_id: str, *, for_update: bool = False) -> Request:
        _check_id(request_id)
        row = self.rows(tx).request(request_id, for_update=for_update)
        if row is None:
            raise NotFound("request", request_id)
        return self._from_row(row)

    def _from_row(self, row: Mapping[str, Any]) -> Request:
        try:
            key: bytes | None = self.directory.data_key(row["subject_id"])
        except KeyUnavailable:
            key = None
        return request_from_row(row, open_details(key, row["id"], row["details_enc"]))

    def _transition(
        self,
        tx: EngineTx,
        active: ActivePolicy,
        request: Request,
        action: str,
        actor: str,
        reason: str,
        now: datetime,
        details: Mapping[str, Any] | None = None,
    ) -> Request:
        target = next_state(request.id, request.state, action)
        values: dict[str, Any] = {"state": target.value}
        if action == "verify":
            values["verified_at"] = format_time(now)
            if _clock_from_verification(active):
                tz = zone(active.policy.controller.time_zone)
                limits = deadlines(
                    now, tz, active.policy.rights.response_period, active.policy.rights.extension
                )
                values["due_date"] = limits.due
        if target in (RequestState.COMPLETED, RequestState.REFUSED, RequestState.CANCELLED):
            values["closed_at"] = format_time(now)
        self._update(tx, request, values, now)
        updated = self._load(tx, request.id)
        self._record(tx, active, updated, action, request.state, actor, reason, now, details)
        return updated

    def _record(
        self,
        tx: EngineTx,
        active: ActivePolicy,
        request: Request,
        action: str,
        previous: RequestState,
        actor: str,
        reason: str,
        now: datetime,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self._history(tx, request, action, previous, request.state, actor, reason)
        tx.audit(
            at=now,
            actor=actor,
            action=f"request.{action}",
            object_type="request",
            object_id=request.id,
            reason=reason,
            policy_version=active.version,
            details={"from": previous.value, "to": request.state.value, **(details or {})},
        )

    def _history(
        self,
        tx: EngineTx,
        request: Request,
        action: str,
        previous: RequestState | None,
        target: RequestState,
        actor: str,
        reason: str,
    ) -> None:
        self.rows(tx).add_event(
            {
                "request_id": request.id,
                "at": format_time(self.clock.now()),
                "actor": actor,
                "action": action,
                "from_state": previous.value if previous else None,
                "to_state": target.value,
                "reason": reason,
            }
        )

    def _update(
        self, tx: EngineTx, request: Request, values: Mapping[str, Any], now: datetime
    ) -> None:
        changed = self.rows(tx).update_request(
            request.id, request.version, {**values, "updated_at": format_time(now)}
        )
        if not changed:
            raise Conflict(
                f"request {request.id} was changed by someone else meanwhile; "
                "look at it again and retry"
            )

    def _set_details(self, tx: EngineTx, request: Request, changes: Mapping[str, Any]) -> None:
        current = self._load(tx, request.id)
        merged = {**current.details, **changes}
        sealed = seal_details(self.directory.data_key(request.subject_id), request.id, merged)
        self._update(tx, current, {"details_enc": sealed}, self.clock.now())

    def _set_flag(self, tx: EngineTx, request: Request, flag: Flag, now: datetime) -> None:
        current = self._load(tx, request.id)
        if flag.value in current.flags:
            return
        self._update(tx, current, {"flags": json.dumps([*current.flags, flag.value])}, now)

    def _issue_code(
        self, tx: EngineTx, active: ActivePolicy, request: Request, actor: str, now: datetime
    ) -> Request:
        code = new_code()
        kid = self.keyring.active_kid
        self.rows(tx).put_code(
            {
                "request_id": request.id,
                "code_hash": self._code_hash(request.id, code, kid),
                "index_kid": kid,
                "issued_at": format_time(now),
                "expires_at": format_time(now + CODE_LIFETIME),
                "attempts": 0,
                "locked_at": None,
                "used_at": None,
            }
        )
        updated = self._transition(
            tx, active, request, "ask_identity", actor, "verification code sent by email", now
        )
        self.notices.to_subject(
            tx,
            updated,
            "verification_code",
            {"code": code, "expires_at": format_time(now + CODE_LIFETIME)},
        )
        return updated

    def _code_hash(self, request_id: str, code: str, kid: str) -> str:
        return self.keyring.blind_index(CODE_INDEX_KIND, f"{request_id}:{code}", kid=kid)


_CODE_MESSAGES = {
    CodeCheck.EXPIRED: "the code has expired: ask for a new one",
    CodeCheck.LOCKED: "the code is locked after too many wrong attempts: ask for a new one",
    CodeCheck.USED: "the code was already used",
}


def _minus(moment: datetime, period: IsoDuration) -> datetime:
    """``moment`` minus a calendar period (for the repeat window)."""
    back = IsoDuration(years=-period.years, months=-period.months, weeks=0, days=0)
    shifted = back.add_to_datetime(moment) if (period.years or period.months) else moment
    return shifted - timedelta(weeks=period.weeks, days=period.days)


def _clock_from_verification(active: ActivePolicy) -> bool:
    return active.policy.rights.clock_starts.value == "verification"


def _assurance(active: ActivePolicy, type_: RequestType, details: Mapping[str, Any]) -> Assurance:
    """The identity check a request needs: the policy's method for the right;
    where the policy names none, withdrawing consent and objecting to direct
    marketing need none (Art. 7(3): as easy as giving; Art. 21(3))."""
    rights = active.policy.rights
    method = rights.verification.get(RIGHT_OF[type_])
    if method is not None:
        return Assurance.from_policy(method)
    if type_ is RequestType.WITHDRAW_CONSENT:
        return Assurance.NONE
    if type_ is RequestType.OBJECTION and details.get("scope") == "direct_marketing":
        return Assurance.NONE
    return Assurance.from_policy(rights.default_verification)


def _check_details(type_: RequestType, details: dict[str, Any], active: ActivePolicy) -> None:
    """Validate what a request type needs beyond the identity, at the edge."""
    if type_ is RequestType.RECTIFICATION:
        changes = details.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise InvalidInput(
                "a rectification request needs the corrections: --set system.dataset.field=VALUE"
            )
        declared = {
            f"{system.id}.{dataset.name}.{field.name}"
            for system in active.policy.systems
            for dataset in system.datasets
            for field in dataset.fields
        }
        for key, value in changes.items():
            if not isinstance(key, str) or key.count(".") != 2 or not isinstance(value, str):
                raise InvalidInput(f"correction {key!r}: use system.dataset.field=VALUE")
            if key not in declared:
                raise InvalidInput(
                    f"correction {key!r}: no such declared field in the policy"
                    f"{did_you_mean(key, sorted(declared))}"
                )
    elif type_ is RequestType.OBJECTION:
        scope = details.get("scope")
        if scope == "direct_marketing":
            return
        purpose_id = details.get("purpose")
        if not purpose_id:
            raise InvalidInput(
                "an objection names a purpose (--purpose ID) or direct marketing (--marketing)"
            )
        purpose = active.purpose(str(purpose_id))
        bases = {b.value for b in purpose.legal_bases}
        if not bases & {"public_task", "legitimate_interest"}:
            raise InvalidInput(
                f"purpose {purpose_id} rests on {', '.join(sorted(bases))}: an objection "
                "(Art. 21(1)) applies to processing on public task or legitimate interests; "
                "withdraw consent instead where it rests on consent"
            )
        details["scope"] = "purpose"
    elif type_ is RequestType.WITHDRAW_CONSENT:
        purposes = details.get("purposes")
        if purposes is not None:
            if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
                raise InvalidInput("purposes to withdraw must be a list of purpose ids")
            for purpose_id in purposes:
                active.purpose(purpose_id)


def _check_id(request_id: str) -> None:
    try:
        uuid.UUID(request_id)
    except ValueError:
        raise NotFound("request", request_id) from None

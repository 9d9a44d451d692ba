"""``steward request ...`` and ``steward requests due``: data subject
requests from intake to completion, and ``steward worker``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from pathlib import Path

import typer

from datasteward.cli.engine_commands import default_region
from datasteward.cli.output import emit_json, reporting_errors
from datasteward.cli.runtime import Runtime, runtime
from datasteward.errors import InvalidInput, UsageError
from datasteward.identity import parse_identity
from datasteward.legaltime.duration import DurationSyntaxError, IsoDuration
from datasteward.requests.model import RefusalGround, Request, RequestState, RequestType, Task

__all__ = ["register", "request_app", "requests_app"]

request_app = typer.Typer(help="Data subject requests, one at a time.", no_args_is_help=True)
requests_app = typer.Typer(help="Data subject requests as a queue.", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")
REQUEST_ID = typer.Argument(..., help="The request id.")

TYPES = ", ".join(t.value for t in RequestType)
STATES = ", ".join([*(s.value for s in RequestState), "extended"])


def _actor(rt: Runtime) -> str:
    return rt.settings.actor


def _print(request: Request, tz: tzinfo, *, as_json: bool, extra: str = "") -> None:
    if as_json:
        emit_json(request.to_dict(tz))
        return
    due = request.effective_due_date.isoformat()
    extended = " (extended)" if request.extended else ""
    typer.echo(f"{request.id}  {request.type.value}  {request.state.value}  due {due}{extended}")
    if extra:
        typer.echo(extra)


def _received(text: str | None, tz: tzinfo) -> datetime | None:
    """``--received``: a day (YYYY-MM-DD, the start of that day in the
    controller's zone) or an ISO 8601 instant with a zone."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0, 0), tzinfo=tz)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--received {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        raise UsageError("--received with a time needs a zone, e.g. 2026-01-31T09:00:00+02:00")
    return moment.astimezone(UTC)


def _changes(values: list[str]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: use system.dataset.field=VALUE")
        changes[key.strip()] = value
    return changes


@request_app.command("new")
def new_command(
    ctx: typer.Context,
    type_: str = typer.Option(..., "--type", help=f"One of: {TYPES}."),
    subject: str = typer.Option(
        ..., "--subject", help="The requester as KIND:VALUE, e.g. email:ana@example.com."
    ),
    received: str | None = typer.Option(
        None, "--received", help="Real receipt date (YYYY-MM-DD) for paper or email requests."
    ),
    channel: str = typer.Option("staff", "--channel", help="How it came: web, email, post, ..."),
    changes: list[str] = typer.Option(
        [], "--set", help="Rectification: system.dataset.field=VALUE (repeatable)."
    ),
    purposes: list[str] = typer.Option(
        [], "--purpose", help="Objection or withdrawal: the purpose id (repeatable)."
    ),
    marketing: bool = typer.Option(
        False, "--marketing", help="Objection to direct marketing (Art. 21(2))."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a request, acknowledge it with its due date, and start
    identity verification (a code by email where the policy asks for one)."""
    with reporting_errors(as_json=as_json):
        try:
            kind = RequestType(type_)
        except ValueError:
            raise UsageError(f"--type {type_!r} is not a request type ({TYPES})") from None
        rt = runtime(ctx)
        identity = parse_identity(subject, default_region=default_region(rt))
        tz = rt.desk.time_zone()
        details: dict[str, object] = {}
        if changes:
            details["changes"] = _changes(changes)
        if kind is RequestType.OBJECTION:
            if marketing:
                details["scope"] = "direct_marketing"
            elif len(purposes) == 1:
                details["purpose"] = purposes[0]
            elif purposes:
                raise UsageError("an objection names one purpose (--purpose) per request")
        elif kind is RequestType.WITHDRAW_CONSENT and purposes:
            details["purposes"] = list(purposes)
        elif purposes or marketing:
            raise UsageError("--purpose and --marketing are for objections and withdrawals")
        request = rt.desk.submit(
            kind,
            identity,
            actor=_actor(rt),
            channel=channel,
            received_at=_received(received, tz),
            details=details,
        )
        if request.state is RequestState.VERIFIED and kind in (
            RequestType.WITHDRAW_CONSENT,
            RequestType.OBJECTION,
        ):
            request = rt.work.start(request.id, actor=_actor(rt))
        _print(request, tz, as_json=as_json)


@request_app.command("show")
def show_command(
    ctx: typer.Context, request_id: str = REQUEST_ID, as_json: bool = JSON_OPTION
) -> None:
    """A request with its deadlines, history and tasks."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        view = rt.desk.show(request_id)
        tz = rt.desk.time_zone()
        if as_json:
            emit_json(view.to_dict(tz))
            return
        _print(view.request, tz, as_json=False)
        request = view.request
        typer.echo(f"received {request.received_at.astimezone(tz).date().isoformat()}")
        if request.flags:
            typer.echo(f"flags: {', '.join(request.flags)}")
        for event in view.history:
            source = event.from_state.value if event.from_state else "-"
            typer.echo(
                f"  {event.at.isoformat()}  {event.action}: {source} -> {event.to_state.value}"
                f"  ({event.actor}) {event.reason}"
            )
        for task in view.tasks:
            _print_task(task)


def _print_task(task: Task) -> None:
    who = f" assignee {task.assignee}" if task.assignee else ""
    typer.echo(f"  task {task.id} {task.system} ({task.kind.value}): {task.state.value}{who}")
    if task.instructions:
        typer.echo(f"    {task.instructions}")
    if task.last_error:
        typer.echo(f"    {task.last_error}")


@request_app.command("list")
def list_command(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", help=f"Only this state ({STATES})."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Requests, the soonest due first."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        states: list[RequestState] | None = None
        extended: bool | None = None
        if state == "extended":
            extended = True
        elif state is not None:
            try:
                states = [RequestState(state)]
            except ValueError:
                raise UsageError(f"--state {state!r} is not a state ({STATES})") from None
        found = rt.desk.list_requests(states=states, extended=extended, limit=limit)
        tz = rt.desk.time_zone()
        if as_json:
            emit_json([r.to_dict(tz) for r in found])
            return
        for request in found:
            _print(request, tz, as_json=False)


@request_app.command("verify")
def verify_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    code: str | None = typer.Option(None, "--code", help="The code the person received."),
    staff_check: str | None = typer.Option(
        None, "--staff-check", help="Identity established by staff: say how (documents seen)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Establish the requester's identity with their code, or record a staff check."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        if (code is None) == (staff_check is None):
            raise UsageError("give either --code or --staff-check")
        if code is not None:
            request = rt.desk.verify(request_id, code, actor=_actor(rt))
        else:
            assert staff_check is not None
            request = rt.desk.verify_by_staff(request_id, actor=_actor(rt), reason=staff_check)
        _print(request, rt.desk.time_zone(), as_json=as_json)


@request_app.command("resend-code")
def resend_code_command(
    ctx: typer.Context, request_id: str = REQUEST_ID, as_json: bool = JSON_OPTION
) -> None:
    """Send a fresh verification code (the previous one stops working)."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        request = rt.desk.resend_code(request_id, actor=_actor(rt))
        _print(request, rt.desk.time_zone(), as_json=as_json)


@request_app.command("ask")
def ask_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    question: str = typer.Option(..., "--question", help="What the person must provide."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask the person for more information to confirm identity (Art. 12(6))."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        request = rt.desk.ask_more_information(request_id, question, actor=_actor(rt))
        _print(request, rt.desk.time_zone(), as_json=as_json)


@request_app.command("extend")
def extend_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    reason: str = typer.Option(..., "--reason", help="Why (complexity, number of requests)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Extend the deadline by the policy's extension (two months), once,
    before the original due date; the person is told at once."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        request = rt.desk.extend(request_id, reason, actor=_actor(rt))
        _print(request, rt.desk.time_zone(), as_json=as_json)


@request_app.command("refuse")
def refuse_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    ground: str = typer.Option(
        ..., "--ground", help="manifestly-unfounded, excessive or identity-not-established."
    ),
    reason: str = typer.Option(..., "--reason", help="The reasons given to the person."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Refuse a request; the notice names the supervisory authority and the
    right to a judicial remedy (Art. 12(4))."""
    with reporting_errors(as_json=as_json):
        try:
            chosen = RefusalGround(ground)
        except ValueError:
            grounds = ", ".join(g.value for g in RefusalGround)
            raise UsageError(f"--ground {ground!r} is not one of: {grounds}") from None
        rt = runtime(ctx)
        request = rt.desk.refuse(request_id, chosen, reason, actor=_actor(rt))
        _print(request, rt.desk.time_zone(), as_json=as_json)


@request_app.command("fee")
def fee_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    amount: str = typer.Option(..., "--amount", help="Amount, e.g. 15.00."),
    currency: str = typer.Option("EUR", "--currency", help="Three-letter currency code."),
    basis: str = typer.Option(..., "--basis", help="Why a fee, and how it was computed."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Charge a reasonable fee instead of refusing (Art. 12(5)(a))."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        request = rt.desk.charge_fee(request_id, amount, currency, basis, actor=_actor(rt))
        _print(request, rt.desk.time_zone(), as_json=as_json)


@request_app.command("cancel")
def cancel_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    reason: str = typer.Option("withdrawn by the requester", "--reason", help="Why."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel an open request."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        request = rt.desk.cancel(request_id, reason, actor=_actor(rt))
        _print(request, rt.desk.time_zone(), as_json=as_json)


@request_app.command("decide")
def decide_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    uphold: bool = typer.Option(
        False, "--uphold/--reject", help="Uphold the objection, or reject it."
    ),
    grounds: str = typer.Option(
        "", "--grounds", help="For --reject: the compelling legitimate grounds."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide an objection to processing on public task or legitimate interests."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        request = rt.desk.decide_objection(
            request_id, uphold=uphold, grounds=grounds, actor=_actor(rt)
        )
        _print(request, rt.desk.time_zone(), as_json=as_json)


@request_app.command("plan")
def plan_command(
    ctx: typer.Context, request_id: str = REQUEST_ID, as_json: bool = JSON_OPTION
) -> None:
    """What running the request would touch, with row counts. Changes nothing."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        plan = rt.work.plan(request_id)
        rt.audit_read("request.planned", request_id)
        if as_json:
            emit_json(plan)
            return
        typer.echo(f"{plan.get('type')} plan: {'ok' if plan.get('ok', True) else 'REFUSED'}")
        for system in plan.get("systems", []):
            typer.echo(f"{system['system']} ({system['connector']})")
            for dataset in system.get("datasets", []):
                rows = "?" if dataset.get("rows") is None else dataset["rows"]
                typer.echo(f"  {dataset['dataset']}: {rows} row(s), {dataset['row_action']}")
        for problem in plan.get("problems", []):
            typer.echo(f"problem: {problem}")
        if "note" in plan:
            typer.echo(str(plan["note"]))


@request_app.command("run")
def run_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    queue: bool = typer.Option(
        False, "--queue", help="Hand the tasks to the workers instead of running them here."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Carry a verified request out (or resume one that stopped); exit 0 when
    completed, 1 when it needs attention or waits for manual tasks."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        if queue:
            request = rt.queued_work.start(request_id, actor=_actor(rt))
        else:
            request = rt.work.run_request(request_id, actor=_actor(rt))
        view = rt.desk.show(request.id)
        tz = rt.desk.time_zone()
        if as_json:
            emit_json(view.to_dict(tz))
        else:
            _print(view.request, tz, as_json=False)
            for task in view.tasks:
                _print_task(task)
        if not queue and view.request.state is not RequestState.COMPLETED:
            raise typer.Exit(1)


@request_app.command("confirm-task")
def confirm_task_command(
    ctx: typer.Context,
    task_id: str = typer.Argument(..., help="The manual task id (see request show)."),
    note: str = typer.Option(..., "--note", help="What was done, for the record."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Confirm a manual task (a system without a connector) as done."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        task = rt.work.confirm_task(task_id, note, actor=_actor(rt))
        if as_json:
            emit_json(task.to_dict())
        else:
            _print_task(task)


@request_app.command("export")
def export_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    out: Path = typer.Option(..., "--out", help="Directory to write the decrypted zip into."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Decrypt a completed access or portability package for a staff
    member (audited)."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        written = rt.export_request_package(request_id, out)
        if as_json:
            emit_json({"request": request_id, "path": str(written)})
        else:
            typer.echo(str(written))


@request_app.command("lift-restriction")
def lift_restriction_command(
    ctx: typer.Context,
    request_id: str = REQUEST_ID,
    on: str = typer.Option(..., "--on", help="The day the restriction ends (YYYY-MM-DD)."),
    reason: str = typer.Option(..., "--reason", help="Why it ends, told to the person."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Announce the end of a restriction: the person is told now, and the
    restriction is lifted on that day (Art. 18(3)) by `requests lift-due` or
    a worker."""
    with reporting_errors(as_json=as_json):
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise UsageError(f"--on {on!r} is not a date (YYYY-MM-DD)") from None
        rt = runtime(ctx)
        request = rt.work.schedule_lift(request_id, on=day, reason=reason, actor=_actor(rt))
        _print(request, rt.desk.time_zone(), as_json=as_json)


@request_app.command("recipients")
def recipients_command(
    ctx: typer.Context, request_id: str = REQUEST_ID, as_json: bool = JSON_OPTION
) -> None:
    """Send the person the list of recipients of their data (Art. 19)."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        request = rt.desk.send_recipient_list(request_id, actor=_actor(rt))
        _print(request, rt.desk.time_zone(), as_json=as_json, extra="list of recipients sent")


@requests_app.command("lift-due")
def lift_due_command(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Lift every restriction whose announced day has come."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        lifted = rt.work.apply_due_lifts(actor=_actor(rt))
        if as_json:
            emit_json({"lifted": lifted})
        else:
            typer.echo(f"{len(lifted)} restriction(s) lifted")
            for request_id in lifted:
                typer.echo(f"  {request_id}")


@requests_app.command("due")
def due_command(
    ctx: typer.Context,
    within: str = typer.Option("P7D", "--within", help="ISO 8601 period ahead, e.g. P7D."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Open requests that are overdue or fall due within the period."""
    with reporting_errors(as_json=as_json):
        try:
            period = IsoDuration.parse(within)
        except DurationSyntaxError as exc:
            raise UsageError(f"--within: {exc}") from None
        if period.hours or period.minutes or period.seconds:
            raise InvalidInput("--within is a period of days, weeks or months")
        rt = runtime(ctx)
        today, found = rt.desk.due(period)
        tz = rt.desk.time_zone()
        overdue = [r for r in found if r.effective_due_date < today]
        soon = [r for r in found if r.effective_due_date >= today]
        if as_json:
            emit_json(
                {
                    "today": today.isoformat(),
                    "overdue": [r.to_dict(tz) for r in overdue],
                    "due": [r.to_dict(tz) for r in soon],
                }
            )
            return
        typer.echo(f"today {today.isoformat()}: {len(overdue)} overdue, {len(soon)} due")
        for request in overdue:
            _print(request, tz, as_json=False, extra="  OVERDUE")
        for request in soon:
            _print(request, tz, as_json=False)


def worker_command(
    ctx: typer.Context,
    threads: int = typer.Option(1, "--threads", min=1, max=64, help="Worker threads."),
) -> None:
    """Run background jobs (request tasks, outbox delivery) until stopped.
    Start as many as you like, on any machines sharing STEWARD_QUEUE_URL."""
    with reporting_errors(as_json=False):
        rt = runtime(ctx)
        consumer = rt.jobs.consumer(workers=threads)
        consumer.run()


def register(app: typer.Typer) -> None:
    app.add_typer(request_app, name="request")
    app.add_typer(requests_app, name="requests")
    app.command("worker")(worker_command)

"""The composition root for command-line use: settings in, wired services out.

Built lazily per command, so commands that need only a policy file never
touch (or even import) the store or the keys."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from datasteward.clock import Clock, SystemClock
from datasteward.errors import StoreError
from datasteward.settings import Settings

if TYPE_CHECKING:  # the store and crypto stacks load only for commands that use them
    from datetime import datetime

    from datasteward.consent.service import ConsentLedger
    from datasteward.crypto import Keyring
    from datasteward.jobs import Jobs
    from datasteward.notify.outbox import Outbox
    from datasteward.policy.model import Policy
    from datasteward.policy.model.retention import Suspension
    from datasteward.requests.fulfil import FulfilmentRunner
    from datasteward.requests.service import RequestDesk
    from datasteward.requests.work import RequestWork
    from datasteward.retention import Sweeper
    from datasteward.retention.ports import HeldSubjects, SubjectHolds
    from datasteward.retention.sql import SqlRetentionBackend
    from datasteward.store.keystore import SqlKeyStore
    from datasteward.store.sql_store import SqlEngineStore
    from datasteward.subjects.service import SubjectDirectory

__all__ = ["Runtime", "runtime"]


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def engine(self) -> SqlEngineStore:
        from datasteward.store import migrate
        from datasteward.store.engine import make_engine
        from datasteward.store.sql_store import SqlEngineStore

        engine = make_engine(self.settings.database_url)
        try:
            current = migrate.current_revision(engine)
        except Exception as exc:
            raise StoreError(
                f"cannot open the engine store ({type(exc).__name__}): run `steward init` "
                "to create it, or check --home and STEWARD_DATABASE_URL"
            ) from None
        if current != migrate.head_revision():
            raise StoreError(
                "the engine store is not initialised or not migrated: run `steward init`"
            )
        return SqlEngineStore(engine)

    @cached_property
    def keystore(self) -> SqlKeyStore:
        from datasteward.store.engine import make_engine
        from datasteward.store.keystore import SqlKeyStore

        return SqlKeyStore(make_engine(self.settings.keystore_url, secure_delete=True))

    @cached_property
    def keyring(self) -> Keyring:
        from datasteward.crypto import load_keyring

        return load_keyring(env=self.settings.env, key_file=self.settings.key_file)

    @cached_property
    def directory(self) -> SubjectDirectory:
        from datasteward.subjects.service import SubjectDirectory

        return SubjectDirectory(self.keyring, self.keystore, self.clock)

    @cached_property
    def ledger(self) -> ConsentLedger:
        from datasteward.consent.service import ConsentLedger

        return ConsentLedger(self.engine, self.directory, self.clock)

    @cached_property
    def outbox(self) -> Outbox:
        from datasteward.notify.wiring import build_outbox

        return build_outbox(self.settings, self.engine, self.keyring, self.clock)

    @cached_property
    def desk(self) -> RequestDesk:
        from datasteward.notify.request_notices import OutboxNotices
        from datasteward.requests.service import RequestDesk
        from datasteward.store.request_store import SqlRequestRows

        notices = OutboxNotices(self.outbox, self.keyring, self.settings.public_url)
        return RequestDesk(
            self.engine,
            lambda tx: SqlRequestRows(tx.connection),  # type: ignore[attr-defined]
            self.directory,
            self.keyring,
            notices,
            self.clock,
        )

    def _runner(self) -> FulfilmentRunner:
        from datasteward.connectors import sql_connectors
        from datasteward.fulfilment.service import Fulfilment, erasure_hash_key
        from datasteward.requests.fulfil import FulfilmentRunner
        from datasteward.store.checkpoint_store import SqlCheckpoints

        def make(policy: Policy) -> Fulfilment:
            return Fulfilment(
                policy,
                connectors=sql_connectors(
                    self.settings.env, cache_dir=self.settings.home / "cache" / "reflection"
                ),
                keyring=self.keyring,
                home=self.settings.home,
                clock=self.clock,
                hash_key=erasure_hash_key(self.keyring),
            )

        checkpoints = SqlCheckpoints(self.engine.engine, self.clock)
        return FulfilmentRunner(make, checkpoints=checkpoints)

    @cached_property
    def work(self) -> RequestWork:
        """Request work run in this process (``request run``)."""
        from datasteward.requests.work import RequestWork

        return RequestWork(self.desk, self._runner(), self.ledger, self.clock)

    @cached_property
    def jobs(self) -> Jobs:
        from datasteward.jobs import JobContext, Jobs, make_huey

        def build() -> JobContext:
            # each worker thread gets its own services and connections
            own = Runtime(self.settings, self.clock)
            work = own.work
            actor = f"worker:{socket.gethostname()}:{os.getpid()}"

            def run_task(task_id: str) -> bool:
                from datasteward.requests.model import TaskState

                task = work.run_task(task_id, actor=actor, retry_transient=True)
                return task.state is not TaskState.PENDING

            def deliver() -> int:
                return int(own.outbox.deliver_due().sent)

            def daily() -> None:
                own.daily(actor=actor)

            return JobContext(run_task, deliver, lambda: list(work.pending_tasks()), daily)

        return Jobs(make_huey(self.settings), build)

    @cached_property
    def queued_work(self) -> RequestWork:
        """Request work handed to the job queue (``request run --queue``)."""
        from datasteward.jobs import HueyJobQueue
        from datasteward.requests.work import RequestWork

        return RequestWork(
            self.desk, self._runner(), self.ledger, self.clock, queue=HueyJobQueue(self.jobs)
        )

    def retention_backend(self, policy: Policy) -> SqlRetentionBackend:
        """The company's systems as retention sees them (close it after)."""
        from datasteward.connectors import sql_connectors
        from datasteward.retention.sql import SqlRetentionBackend

        return SqlRetentionBackend(policy, sql_connectors(self.settings.env))

    def retention_subjects(self) -> SubjectHolds:
        """Restricted subjects and open requests, read only when a rule needs them."""
        runtime = self

        class Subjects:
            def held(self, suspensions: frozenset[Suspension], at: datetime) -> HeldSubjects:
                from datasteward.retention.engine_store import SqlSubjectHolds

                return SqlSubjectHolds(runtime.engine, runtime.directory).held(suspensions, at)

        return Subjects()

    def retention_sweeper(
        self, policy: Policy, version: int | None, *, actor: str
    ) -> tuple[Sweeper, SqlRetentionBackend]:
        """A sweeper over the company's systems (close the backend after)."""
        from datasteward.fulfilment.service import erasure_hash_key
        from datasteward.retention import Sweeper
        from datasteward.retention.engine_store import SqlSweepProgress

        backend = self.retention_backend(policy)
        sweeper = Sweeper(
            policy,
            backend=backend,
            progress=SqlSweepProgress(self.engine),
            subjects=self.retention_subjects(),
            clock=self.clock,
            hash_key=erasure_hash_key(self.keyring),
            actor=actor,
            policy_version=version,
        )
        return sweeper, backend

    def daily(self, *, actor: str) -> None:
        """The daily job: lift restrictions whose day has come, sweep
        retention (at most an hour per day; the next day resumes), and end
        the engine's own expired records."""
        from datasteward.policy.active import load_active_policy
        from datasteward.retention import housekeeping
        from datasteward.retention.engine_store import SqlHousekeeping

        self.work.apply_due_lifts(actor=actor)
        with self.engine.reading() as tx:
            active = load_active_policy(tx)
        sweeper, backend = self.retention_sweeper(active.policy, active.version, actor=actor)
        try:
            sweeper.run(max_seconds=3600)
        finally:
            backend.close()
        housekeeping(
            SqlHousekeeping(self.engine), home=self.settings.home, clock=self.clock, actor=actor
        )

    def close(self) -> None:
        """Release the connections this runtime opened."""
        for name in ("work", "queued_work"):
            work = self.__dict__.get(name)
            if work is not None:
                work.runner.close()
        for name in ("engine", "keystore"):
            held = self.__dict__.get(name)
            if held is not None:
                held.engine.dispose()

    def audit_read(self, action: str, request_id: str) -> None:
        """Record that staff looked at what a request touches."""
        with self.engine.transaction() as tx:
            tx.audit(
                at=self.clock.now(),
                actor=self.settings.actor,
                action=action,
                object_type="request",
                object_id=request_id,
                reason="viewed by staff",
                policy_version=None,
            )

    def export_request_package(self, request_id: str, out: Path) -> Path:
        """Decrypt a request's package into ``out`` for a staff member (audited)."""
        from datasteward.errors import Conflict
        from datasteward.packages.vault import export_package

        view = self.desk.show(request_id)
        package = next((t.result for t in view.tasks if "package_id" in t.result), None)
        if package is None:
            raise Conflict(f"request {request_id} has no package (yet)")
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"{view.request.type.value}-{request_id}.zip"
        package_id = str(package["package_id"])
        export_package(self.settings.home, self.keyring, package_id, target, now=self.clock.now())
        with self.engine.transaction() as tx:
            tx.audit(
                at=self.clock.now(),
                actor=self.settings.actor,
                action="package.exported",
                object_type="request",
                object_id=request_id,
                reason="package decrypted for staff",
                policy_version=None,
                details={"package": package_id},
            )
        return target


def runtime(ctx: typer.Context) -> Runtime:
    """The runtime for this invocation (``--home`` comes from the main callback)."""
    home: Path | None = (ctx.find_root().obj or {}).get("home")
    obj = ctx.find_root().obj
    if isinstance(obj, dict) and "runtime" in obj:
        cached = obj["runtime"]
        assert isinstance(cached, Runtime)
        return cached
    built = Runtime(Settings.from_env(dict(os.environ), home=home))
    if isinstance(obj, dict):
        obj["runtime"] = built
    return built

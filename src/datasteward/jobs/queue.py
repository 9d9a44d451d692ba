"""The job queue: huey with its SQLite storage in the data directory by
default, or Redis when ``STEWARD_QUEUE_URL=redis://...``, so that any number
of ``steward worker`` processes on any machines share the work.

Four jobs exist:

* ``run_task(task_id)``: one system's part of one request. Retried with
  exponential backoff while its failure is transient (a system or the engine
  store unreachable); a task is claimed in the engine store before it runs,
  so the same task enqueued twice, or picked up by two workers, runs once.
* ``deliver_outbox()``: every minute, sends what the outbox has due.
* ``requeue_tasks()``: every ten minutes, re-enqueues tasks whose enqueue
  was lost or whose worker died (a lapsed lease), so no request is stuck.
* ``daily()``: at 03:15 (the worker's local time), lifts restrictions whose
  announced day has come and runs the retention sweep.

The queue carries only ids: no personal data is ever in a queue message.
Each worker thread builds its own services (:class:`JobContext`) from the
settings, once, and reuses them for every job it runs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.exceptions import RetryTask

from datasteward.settings import Settings

__all__ = ["HueyJobQueue", "JobContext", "Jobs", "make_huey"]

QUEUE_NAME = "datasteward"
TASK_RETRIES = 8
RETRY_DELAY = 5
RETRY_BACKOFF = 2.0


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    """The queue the settings name (SQLite in HOME by default)."""
    url = settings.queue_url
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            from datasteward.errors import UsageError

            raise UsageError(
                "STEWARD_QUEUE_URL must be a redis:// URL (unset it for the embedded queue)"
            )
        return RedisHuey(QUEUE_NAME, url=url, immediate=immediate, results=False)
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        QUEUE_NAME,
        filename=str(settings.home / "queue.sqlite"),
        immediate=immediate,
        results=False,
    )


@dataclass
class JobContext:
    """What a job needs, built once per worker thread by ``build``."""

    run_task: Callable[[str], bool]
    """Run a task; True when done or settled, False when it should be retried."""
    deliver_outbox: Callable[[], int]
    pending_tasks: Callable[[], list[str]]
    daily: Callable[[], None]
    """Once a day: lift restrictions whose day has come, sweep retention."""


class Jobs:
    """The jobs registered on one huey instance."""

    def __init__(self, huey: Huey, build: Callable[[], JobContext]) -> None:
        self.huey = huey
        self._build = build
        self._local = threading.local()

        def run_task(task_id: str) -> None:
            if not self.context().run_task(task_id):
                raise RetryTask(f"task {task_id}: transient failure, retrying")

        def deliver_outbox() -> None:
            self.context().deliver_outbox()

        def requeue_tasks() -> None:
            for task_id in self.context().pending_tasks():
                self.run_task(task_id)

        def daily() -> None:
            self.context().daily()

        # huey is untyped: its task wrappers are kept as Any
        self.run_task: Any = huey.task(
            retries=TASK_RETRIES,
            retry_delay=RETRY_DELAY,
            retry_backoff=RETRY_BACKOFF,
            name="steward.run_task",
        )(run_task)
        self.deliver_outbox: Any = huey.periodic_task(
            crontab(minute="*"), name="steward.deliver_outbox"
        )(deliver_outbox)
        self.requeue_tasks: Any = huey.periodic_task(
            crontab(minute="*/10"), name="steward.requeue_tasks"
        )(requeue_tasks)
        self.daily: Any = huey.periodic_task(crontab(hour="3", minute="15"), name="steward.daily")(
            daily
        )

    def context(self) -> JobContext:
        built: JobContext | None = getattr(self._local, "context", None)
        if built is None:
            built = self._build()
            self._local.context = built
        return built

    def consumer(self, *, workers: int = 1, periodic: bool = True) -> Any:
        """A huey consumer running this process's worker threads."""
        return self.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=periodic,
            initial_delay=0.05,
            max_delay=1.0,
        )


class HueyJobQueue:
    """``requests.ports.JobQueue`` on huey."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    def enqueue_tasks(self, task_ids: Sequence[str]) -> None:
        for task_id in task_ids:
            self.jobs.run_task(task_id)

"""Background jobs on huey: the embedded SQLite queue or Redis, one code path.

See :mod:`datasteward.jobs.queue`."""

from datasteward.jobs.queue import HueyJobQueue, JobContext, Jobs, make_huey

__all__ = ["HueyJobQueue", "JobContext", "Jobs", "make_huey"]

"""The automation jobs of a worker: acting on the tickets whose time has come, and working the times out
again after automations change."""

from app.automations.tasks import act_on_due, rescan
from app.config import Settings
from app.db import Database
from app.kit.jobs import Job, PeriodicJob
from app.kit.time import utcnow


def automation_jobs(db: Database, settings: Settings) -> list[Job]:
    async def act() -> int:
        return await act_on_due(db, settings, utcnow())

    async def rescan_changed() -> int:
        return await rescan(db, utcnow())

    interval = settings.worker.automation_seconds
    return [
        PeriodicJob("running automations", act, interval_seconds=interval),
        PeriodicJob("rescanning tickets for changed automations", rescan_changed, interval_seconds=interval),
    ]

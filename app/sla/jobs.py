"""The SLA job of a worker: warnings and breaches announced once they fall due."""

from app.config import Settings
from app.db import Database
from app.kit.jobs import Job, PeriodicJob
from app.kit.time import utcnow
from app.sla.tasks import announce_due


def sla_jobs(db: Database, settings: Settings) -> list[Job]:
    async def announce() -> int:
        return await announce_due(db, settings, utcnow())

    return [
        PeriodicJob(
            "announcing SLA warnings and breaches", announce, interval_seconds=settings.worker.sla_seconds
        )
    ]

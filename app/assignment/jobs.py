"""The assignment job of a worker: tickets waiting in groups handed out."""

from app.assignment.tasks import assign_waiting
from app.config import Settings
from app.db import Database
from app.kit.jobs import Job, PeriodicJob, Wake

# Notified by triggers on changes that may let a group hand out its waiting tickets (migrations: assignment).
ASSIGNMENT_CHANNEL = "helpdesk_assignment"


def assignment_jobs(db: Database, settings: Settings) -> list[Job]:
    async def assign() -> int:
        return await assign_waiting(db, settings)

    return [
        PeriodicJob(
            "assigning waiting tickets",
            assign,
            interval_seconds=settings.worker.assignment_seconds,
            wake=Wake(ASSIGNMENT_CHANNEL),
        )
    ]

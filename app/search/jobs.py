"""The search job of a worker: tag counts brought up to date."""

from app.config import Settings
from app.db import Database
from app.kit.jobs import Job, PeriodicJob
from app.search.tasks import fold_tag_count_changes


def search_jobs(db: Database, settings: Settings) -> list[Job]:
    async def fold() -> int:
        return await fold_tag_count_changes(db)

    return [PeriodicJob("folding tag count changes", fold, interval_seconds=settings.worker.poll_seconds)]

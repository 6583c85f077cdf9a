"""Who gets a ticket: the group's strategy over the agents who are available and under capacity."""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.assignment.repository import AssignmentRepository, Candidate
from app.kit.time import utcnow
from app.models.enums import AssignmentStrategy
from app.rules.snapshot import rules_of


def _round_robin(candidate: Candidate) -> tuple[bool, datetime, UUID]:
    # Whoever received a ticket of the group longest ago, an agent who never did first.
    last = candidate.last_assigned_at
    return (last is not None, last or datetime.min.replace(tzinfo=UTC), candidate.agent_id)


def _least_loaded(candidate: Candidate) -> tuple[float, bool, datetime, UUID]:
    # Relative to capacity, so that a part-timer with 5 slots is not given as many as a full-timer with 20;
    # ties go to whoever waited longest, so that equally loaded agents take turns.
    return (candidate.load / candidate.capacity, *_round_robin(candidate))


_ORDER = {
    AssignmentStrategy.round_robin: _round_robin,
    AssignmentStrategy.least_loaded: _least_loaded,
    AssignmentStrategy.skills: _least_loaded,
}


class Assigner:
    def __init__(self, session: AsyncSession, workspace_id: UUID) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.repo = AssignmentRepository(session, workspace_id)

    async def choose(
        self,
        group_id: UUID,
        *,
        required_skills: Sequence[str] = (),
        strategy: AssignmentStrategy | None = None,
        exclude: Sequence[UUID] = (),
    ) -> UUID | None:
        """The agent who gets a ticket of the group, by `strategy` or else the group's; None: it waits.

        Holds the group's lock and the chosen agent's until the transaction ends, so that concurrent
        assignments see each other: round robin stays fair and nobody goes over capacity.
        """
        policy = (await rules_of(self.session, self.workspace_id)).groups.get(group_id)
        if policy is None or (strategy or policy.strategy) is AssignmentStrategy.manual:
            return None
        # Read again under the lock, in case the group changed meanwhile.
        policy = await self.repo.lock_group(group_id)
        if policy is None:
            return None
        strategy = strategy or policy.strategy
        if strategy is AssignmentStrategy.manual:
            return None
        candidates = await self.repo.candidates(
            group_id,
            available=policy.available,
            required_skills=required_skills if strategy is AssignmentStrategy.skills else (),
            exclude=exclude,
        )
        for candidate in sorted(candidates, key=_ORDER[strategy]):
            if candidate.load >= candidate.capacity:
                continue
            # The load read above may be stale by now: it is counted again under the agent's lock.
            if await self.repo.lock_if_free(candidate.agent_id, policy.available):
                await self.repo.mark_assigned(group_id, candidate.agent_id, utcnow())
                return candidate.agent_id
        return None

    async def is_member(self, group_id: UUID, agent_id: UUID) -> bool:
        return await self.repo.is_member(group_id, agent_id)

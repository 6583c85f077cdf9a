"""Who gets a ticket: the group's strategy over the agents who are available and under capacity."""

import enum
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.assignment.repository import AssignmentRepository, Candidate, Unlocked
from app.kit.time import utcnow
from app.kit.transaction import transaction_info
from app.models.enums import AssignmentStrategy, Availability
from app.rules.snapshot import rules_of


def _round_robin(candidate: Candidate) -> tuple[bool, datetime, UUID]:
    # Whoever received a ticket of the group longest ago, an agent who never did first.
    last = candidate.last_assigned_at
    return (last is not None, last or datetime.min.replace(tzinfo=UTC), candidate.agent_id)


def _least_loaded(candidate: Candidate) -> tuple[float, bool, datetime, UUID]:
    # Relative to capacity, so that a part-timer with 5 slots is not given as many as a full-timer with 20;
    # ties go to whoever waited longest, so that equally loaded agents take turns.
    return (candidate.load / candidate.capacity, *_round_robin(candidate))


class _Try(enum.Enum):
    assigned = "assigned"
    held_elsewhere = "held_elsewhere"
    given_meanwhile = "given_meanwhile"
    refused = "refused"


# Times an assignment looks at the candidates again after waiting for one of them.
_ROUNDS = 8
# Set once the transaction holds an agent for an assignment.
_HOLDS_AGENTS = "holds_agents"

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

        No lock on the group. The candidates are tried in the strategy's order, skipping those another
        assignment holds right now; the one chosen stays locked until the transaction ends, so that
        the load counted under the lock includes every assignment to them and nobody goes over
        capacity. An agent given a ticket since the candidates were read is passed over while another
        is free, which keeps round robin fair. Each try runs in a savepoint, so an agent who cannot take
        the ticket is not left locked. When everyone free is held elsewhere, the assignment waits for
        the first of them and looks again, unless this transaction already holds an agent (then it
        returns None rather than wait, so that it cannot deadlock).
        """
        policy = (await rules_of(self.session, self.workspace_id)).groups.get(group_id)
        strategy = strategy or (policy.strategy if policy is not None else None)
        if policy is None or strategy is AssignmentStrategy.manual:
            return None
        for round_ in range(_ROUNDS):
            candidates = await self.repo.candidates(
                group_id,
                available=policy.available,
                required_skills=required_skills if strategy is AssignmentStrategy.skills else (),
                exclude=exclude,
            )
            later: list[Candidate] = []
            for candidate in sorted(candidates, key=_ORDER[strategy]):
                if candidate.load >= candidate.capacity:
                    continue
                taken = await self._try(group_id, candidate, policy.available, wait=False)
                if taken is _Try.assigned:
                    return candidate.agent_id
                if taken in (_Try.held_elsewhere, _Try.given_meanwhile):
                    later.append(candidate)
            if not later or transaction_info(self.session).get(_HOLDS_AGENTS):
                return None
            if round_ < _ROUNDS - 1:
                # Wait for the assignment that holds the first of them to end, then look again at
                # what is committed by then.
                await self._try(group_id, later[0], policy.available, wait=True, take=False)
                continue
            # Still contended after every round: wait for each in turn, and take the first who has
            # room. This transaction holds no agent while it waits, so it cannot deadlock.
            for candidate in later:
                if await self._try(group_id, candidate, policy.available, wait=True) is _Try.assigned:
                    return candidate.agent_id
        return None

    async def _try(
        self,
        group_id: UUID,
        candidate: Candidate,
        available: Sequence[Availability],
        *,
        wait: bool,
        take: bool = True,
    ) -> "_Try":
        """Lock the candidate and assign them if they can take the ticket; without `take`, only wait
        until nobody else holds them."""
        async with self.session.begin_nested() as attempt:
            capacity = await self.repo.lock_agent(candidate.agent_id, available, wait=wait)
            if capacity is Unlocked.held_elsewhere:
                return _Try.held_elsewhere
            if isinstance(capacity, Unlocked):
                return _Try.refused
            load, last_assigned_at = await self.repo.standing(group_id, candidate.agent_id)
            given_meanwhile = not wait and last_assigned_at != candidate.last_assigned_at
            if not take or load >= capacity or given_meanwhile:
                await attempt.rollback()  # lets the agent go
                return _Try.given_meanwhile if given_meanwhile else _Try.refused
        await self.repo.mark_assigned(group_id, candidate.agent_id, utcnow())
        transaction_info(self.session)[_HOLDS_AGENTS] = True
        return _Try.assigned

    async def is_member(self, group_id: UUID, agent_id: UUID) -> bool:
        return await self.repo.is_member(group_id, agent_id)

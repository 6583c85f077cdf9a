"""What other domains do when an agent stops taking work, in the transaction of the change: the hooks
are installed when the app and the worker are assembled (`app.assembly`), as the ticket pipeline's are."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.config import Settings


class AgentHook:
    async def stopped_working(
        self, session: AsyncSession, principal: Principal, settings: Settings, agent_id: UUID
    ) -> None:
        """The agent, who could take work, went offline or was deactivated in this transaction."""


_installed: tuple[AgentHook, ...] | None = None


def install_agent_hooks(hooks: Sequence[AgentHook]) -> None:
    global _installed
    _installed = tuple(hooks)


def agent_hooks() -> tuple[AgentHook, ...]:
    if _installed is None:
        raise RuntimeError("the agent hooks are not assembled: call app.assembly.assemble() first")
    return _installed

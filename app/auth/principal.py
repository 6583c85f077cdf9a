from dataclasses import dataclass
from uuid import UUID

from app.models.enums import ActorType, Permission, Role, Scope, TicketAccess


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an API key (server to server) or an agent acting through an agent token."""

    workspace_id: UUID
    role: Role
    actor_type: ActorType
    actor_id: UUID
    agent_id: UUID | None = None
    ticket_access: TicketAccess = TicketAccess.all
    # An API key's scopes; None: all its role may.
    scopes: frozenset[Scope] | None = None
    # An agent's custom role's permissions; None: the built-in role governs.
    permissions: frozenset[Permission] | None = None

    @property
    def restricted(self) -> bool:
        return self.agent_id is not None and self.ticket_access is TicketAccess.restricted

    @property
    def sees_internal_notes(self) -> bool:
        """Internal notes are staff's: a key given scopes without `notes:read` (one that serves customers,
        say) never reads them, in the conversation or in search."""
        return self.may(Scope.notes_read)

    def may(self, scope: Scope) -> bool:
        return self.scopes is None or scope in self.scopes

    def can(self, role: Role) -> bool:
        return self.role.rank >= role.rank

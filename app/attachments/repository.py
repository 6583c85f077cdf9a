"""Every query on attachments, scoped to one workspace."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update

from app.auth.principal import Principal
from app.kit.repository import ScopedRepository
from app.models import Attachment


class AttachmentRepository(ScopedRepository[Attachment]):
    model = Attachment
    resource = "Attachment"

    async def claim_uploads(
        self, principal: Principal, tokens: Sequence[str], ticket_id: UUID, comment_id: UUID, now: datetime
    ) -> list[Attachment]:
        """Attach the caller's unattached uploads among `tokens`; those that are not are left out.

        One conditional UPDATE, so that two comments racing for the same upload cannot both get it.
        """
        statement = (
            update(Attachment)
            .where(
                Attachment.workspace_id == self.workspace_id,
                Attachment.upload_token.in_(tokens),
                Attachment.uploaded_by_type == principal.actor_type,
                Attachment.uploaded_by_id == principal.actor_id,
                Attachment.attached_at.is_(None),
            )
            .values(ticket_id=ticket_id, comment_id=comment_id, attached_at=now)
            .returning(Attachment)
            .execution_options(populate_existing=True)
        )
        return list((await self.session.execute(statement)).scalars())

    async def unattached_tokens(
        self, principal: Principal, tokens: Sequence[str], *, lock: bool = False
    ) -> set[str]:
        """Which of `tokens` are the caller's uploads not attached yet (locked, when `lock`, until the
        transaction ends, so that they are still unattached when a comment claims them)."""
        statement = select(Attachment.upload_token).where(
            Attachment.workspace_id == self.workspace_id,
            Attachment.upload_token.in_(tokens),
            Attachment.uploaded_by_type == principal.actor_type,
            Attachment.uploaded_by_id == principal.actor_id,
            Attachment.attached_at.is_(None),
        )
        if lock:
            statement = statement.with_for_update()
        return set((await self.session.execute(statement)).scalars())

    async def attach(self, ids: Sequence[UUID], ticket_id: UUID, comment_id: UUID, now: datetime) -> None:
        await self.session.execute(
            update(Attachment)
            .where(
                Attachment.workspace_id == self.workspace_id,
                Attachment.id.in_(ids),
                Attachment.attached_at.is_(None),
            )
            .values(ticket_id=ticket_id, comment_id=comment_id, attached_at=now)
        )

    async def of_comments(self, comment_ids: Sequence[UUID]) -> list[Attachment]:
        statement = (
            self.select()
            .where(Attachment.comment_id.in_(comment_ids))
            .order_by(Attachment.created_at, Attachment.id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def move_to_ticket(self, from_ticket_id: UUID, to_ticket_id: UUID) -> None:
        await self.session.execute(
            update(Attachment)
            .where(Attachment.workspace_id == self.workspace_id, Attachment.ticket_id == from_ticket_id)
            .values(ticket_id=to_ticket_id)
        )

from uuid import UUID

from sqlalchemy import func, update

from app.kit.pagination import Keyset, PageParams, SortColumn
from app.kit.repository import ScopedRepository
from app.models import Comment
from app.models.enums import CommentAuthor

# Ids are time-ordered: by id is by creation.
OLDEST_FIRST = Keyset("id", [SortColumn(Comment.id)])


class CommentRepository(ScopedRepository[Comment]):
    model = Comment
    resource = "Comment"

    async def page(
        self, ticket_id: UUID, public: bool | None, page: PageParams
    ) -> tuple[list[Comment], str | None]:
        statement = self.select().where(Comment.ticket_id == ticket_id)
        if public is not None:
            statement = statement.where(Comment.public.is_(public))
        return await self.paginate(statement, OLDEST_FIRST, page)

    async def last_public(self, ticket_id: UUID) -> Comment | None:
        statement = (
            self.select()
            .where(Comment.ticket_id == ticket_id, Comment.public)
            .order_by(Comment.id.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def public_after(self, ticket_id: UUID, comment_id: UUID) -> list[Comment]:
        statement = (
            self.select()
            .where(Comment.ticket_id == ticket_id, Comment.public, Comment.id > comment_id)
            .order_by(Comment.id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def with_provider_ids(self, ticket_id: UUID, limit: int) -> list[Comment]:
        """The ticket's latest public comments that carry a provider's id (e.g. an email's Message-ID), oldest
        first."""
        statement = (
            self.select()
            .where(Comment.ticket_id == ticket_id, Comment.public, Comment.provider_message_id.is_not(None))
            .order_by(Comment.id.desc())
            .limit(limit)
        )
        return list(reversed((await self.session.execute(statement)).scalars().all()))

    async def latest_from_contact(self, ticket_id: UUID) -> Comment | None:
        """The latest message a contact sent on a channel to the ticket, an internal note included (the
        record of an automatic mail)."""
        statement = (
            self.select()
            .where(
                Comment.ticket_id == ticket_id,
                Comment.author_type == CommentAuthor.contact,
                Comment.provider_message_id.is_not(None),
            )
            .order_by(Comment.id.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def written_by_contact(self, ticket_id: UUID, contact_id: UUID) -> bool:
        statement = self.select().where(
            Comment.ticket_id == ticket_id,
            Comment.author_type == CommentAuthor.contact,
            Comment.author_id == contact_id,
        )
        return (await self.session.execute(statement.limit(1))).first() is not None

    async def move(self, from_ticket_id: UUID, to_ticket_id: UUID) -> None:
        """Comments of a merged ticket show on the one it was merged into, remembering their origin."""
        await self.session.execute(
            update(Comment)
            .where(Comment.workspace_id == self.workspace_id, Comment.ticket_id == from_ticket_id)
            .values(
                ticket_id=to_ticket_id,
                original_ticket_id=func.coalesce(Comment.original_ticket_id, from_ticket_id),
            )
            .execution_options(synchronize_session=False)
        )

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import Select, bindparam, delete, exists, select
from sqlalchemy.dialects.postgresql import insert

from app.contacts.schemas import ContactSort
from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.kit.search import like_pattern, search_terms
from app.kit.time import utcnow
from app.models import Contact, ContactIdentity, Ticket
from app.models.enums import IdentityKind

KEYSETS = {
    ContactSort.newest: Keyset(
        "-created_at",
        [SortColumn(Contact.created_at, descending=True), SortColumn(Contact.id, descending=True)],
    ),
    ContactSort.oldest: Keyset("created_at", [SortColumn(Contact.created_at), SortColumn(Contact.id)]),
    ContactSort.name: Keyset("name", [SortColumn(Contact.name, nullable=True), SortColumn(Contact.id)]),
}


# Every new customer of a channel claims an identity: built once.
_CLAIM = (
    insert(ContactIdentity)
    .values(
        workspace_id=bindparam("workspace_id"),
        contact_id=bindparam("contact_id"),
        kind=bindparam("kind"),
        value=bindparam("value"),
        profile_channel_id=bindparam("profile_channel_id"),
        profile_due_at=bindparam("profile_due_at"),
    )
    .on_conflict_do_nothing(
        index_elements=[ContactIdentity.workspace_id, ContactIdentity.kind, ContactIdentity.value]
    )
    .returning(ContactIdentity)
)
# The identity first, by its unique index: as a join, a generic plan may walk the workspace's contacts
# instead. Built once: channels' messages look contacts up by identity one after another.
_BY_IDENTITY = select(Contact).where(
    Contact.workspace_id == bindparam("workspace_id"),
    Contact.id
    == select(ContactIdentity.contact_id)
    .where(
        ContactIdentity.workspace_id == bindparam("workspace_id"),
        ContactIdentity.kind == bindparam("kind"),
        ContactIdentity.value == bindparam("value"),
    )
    .scalar_subquery(),
)


class ContactRepository(ScopedRepository[Contact]):
    model = Contact
    resource = "Contact"

    def search(
        self,
        *,
        q: str | None,
        email: str | None,
        phone: str | None,
        organization_id: UUID | None,
        external_id: str | None,
        vip: bool | None,
    ) -> Select[tuple[Contact]]:
        statement = self.select()
        for term in search_terms(q or ""):
            statement = statement.where(Contact.search_text.like(like_pattern(term)))
        if email is not None:
            statement = statement.where(Contact.email == email)
        if phone is not None:
            statement = statement.where(Contact.phone == phone)
        if organization_id is not None:
            statement = statement.where(Contact.organization_id == organization_id)
        if external_id is not None:
            statement = statement.where(Contact.external_id == external_id)
        if vip is not None:
            statement = statement.where(Contact.vip == vip)
        return statement

    async def find_by_identity(self, kind: IdentityKind, value: str) -> Contact | None:
        parameters = {"workspace_id": self.workspace_id, "kind": kind, "value": value}
        return (await self.session.execute(_BY_IDENTITY, parameters)).scalar_one_or_none()

    async def copied_on_tickets(self, contact_id: UUID) -> bool:
        """Whether the contact is a CC of some ticket."""
        copied = exists().where(Ticket.workspace_id == self.workspace_id, Ticket.ccs.contains([contact_id]))
        return bool(await self.session.scalar(select(copied)))

    async def touch(self, contact: Contact) -> None:
        """A new version for a change the contact's row does not show (its identities)."""
        contact.version += 1
        contact.updated_at = utcnow()
        await self.session.flush()


class IdentityRepository(ScopedRepository[ContactIdentity]):
    model = ContactIdentity

    async def of_contacts(self, contact_ids: Sequence[UUID]) -> list[ContactIdentity]:
        if not contact_ids:
            return []
        statement = (
            self.select()
            .where(ContactIdentity.contact_id.in_(contact_ids))
            .order_by(ContactIdentity.contact_id, ContactIdentity.id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def of_contact(self, contact_id: UUID, identity_id: UUID) -> ContactIdentity | None:
        statement = self.select().where(
            ContactIdentity.contact_id == contact_id, ContactIdentity.id == identity_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def claim(
        self,
        contact_id: UUID,
        kind: IdentityKind,
        value: str,
        *,
        profile_due: tuple[UUID, datetime] | None = None,
    ) -> ContactIdentity | None:
        """The new identity, or None when the value is already someone's (waits for a concurrent claim).
        `profile_due`: the channel to ask for the contact's profile, and when (in the same statement)."""
        profile_channel_id, profile_due_at = profile_due or (None, None)
        parameters = {
            "workspace_id": self.workspace_id,
            "contact_id": contact_id,
            "kind": kind,
            "value": value,
            "profile_channel_id": profile_channel_id,
            "profile_due_at": profile_due_at,
        }
        return (await self.session.execute(_CLAIM, parameters)).scalar_one_or_none()

    async def owner(self, kind: IdentityKind, value: str) -> UUID | None:
        statement = select(ContactIdentity.contact_id).where(
            ContactIdentity.workspace_id == self.workspace_id,
            ContactIdentity.kind == kind,
            ContactIdentity.value == value,
        )
        return await self.session.scalar(statement)

    async def release(self, contact_id: UUID, kind: IdentityKind, value: str) -> None:
        await self.session.execute(
            delete(ContactIdentity).where(
                ContactIdentity.workspace_id == self.workspace_id,
                ContactIdentity.contact_id == contact_id,
                ContactIdentity.kind == kind,
                ContactIdentity.value == value,
            )
        )

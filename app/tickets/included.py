"""Side-loading: the records a page of tickets refers to, each once, one query per type."""

from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import BadRequest, Forbidden
from app.models import Agent, Category, Contact, Group, Organization, Ticket
from app.models.enums import Permission, Scope
from app.tickets.schemas import (
    Included,
    IncludedAgent,
    IncludedCategory,
    IncludedContact,
    IncludedGroup,
    IncludedOrganization,
)

INCLUDABLE = ("requester", "assignee", "group", "organization", "category")
# What shows a contact's record: a custom role without contact access, or a key without the scope, sees
# the tickets but not their requesters.
_CONTACT_RECORDS = frozenset({"requester", "organization"})

IncludeQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Side-load the records the tickets refer to, comma-separated: "
        f"{', '.join(INCLUDABLE)} (the requester's organization). They come in `included`, each once.",
    ),
]


def parse_include(value: str | None, principal: Principal) -> frozenset[str]:
    names = frozenset(part.strip() for part in (value or "").split(",") if part.strip())
    unknown = sorted(names - set(INCLUDABLE))
    if unknown:
        raise BadRequest(
            f"include: {unknown[0]!r} cannot be included; choose among {', '.join(INCLUDABLE)}",
            field="include",
            code="invalid_include",
        )
    if names & _CONTACT_RECORDS and not _sees_contacts(principal):
        raise Forbidden("include: this credential may not read contacts", code="insufficient_permission")
    return names


def _sees_contacts(principal: Principal) -> bool:
    if principal.permissions is not None and Permission.contacts_access not in principal.permissions:
        return False
    return principal.may(Scope.contacts_read)


async def side_load(
    session: AsyncSession, workspace_id: UUID, tickets: Sequence[Ticket], include: frozenset[str]
) -> Included | None:
    """The included records of `tickets`, for the names of `include` (None when it names none)."""
    if not include:
        return None

    def referenced(attribute: str) -> set[UUID]:
        return {value for ticket in tickets if (value := getattr(ticket, attribute)) is not None}

    async def rows(model: Any, ids: Any) -> list[Any]:
        if isinstance(ids, set) and not ids:
            return []
        statement = select(model).where(model.workspace_id == workspace_id, model.id.in_(ids))
        return list((await session.execute(statement.order_by(model.id))).scalars())

    included = Included()
    requester_ids = referenced("requester_id")
    if "requester" in include:
        contacts = await rows(Contact, requester_ids)
        included.requesters = [IncludedContact.model_validate(contact) for contact in contacts]
    if "organization" in include:
        # One query: the organizations of the requesters, through the contacts.
        organization_ids = select(Contact.organization_id).where(
            Contact.workspace_id == workspace_id, Contact.id.in_(requester_ids)
        )
        organizations = await rows(Organization, organization_ids) if requester_ids else []
        included.organizations = [IncludedOrganization.model_validate(item) for item in organizations]
    if "assignee" in include:
        agents = await rows(Agent, referenced("assignee_id"))
        included.assignees = [IncludedAgent.model_validate(agent) for agent in agents]
    if "group" in include:
        groups = await rows(Group, referenced("group_id"))
        included.groups = [IncludedGroup.model_validate(group) for group in groups]
    if "category" in include:
        categories = await rows(Category, referenced("category_id"))
        included.categories = [IncludedCategory.model_validate(category) for category in categories]
    return included

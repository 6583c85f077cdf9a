from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.api.deps import Agent, Session, Viewer
from app.api.routing import UnitOfWorkRoute
from app.contacts import service
from app.contacts.schemas import (
    ContactCreate,
    ContactOut,
    ContactSort,
    ContactUpdate,
    ExternalId,
    IdentityCreate,
    IdentityOut,
)
from app.kit.http import IfMatch, check_if_match, set_etag
from app.kit.pagination import PageQuery
from app.kit.schemas import Page

router = APIRouter(prefix="/v1/contacts", tags=["Contacts"], route_class=UnitOfWorkRoute)


async def default_phone_region(request: Request) -> str:
    return request.app.state.settings.default_phone_region


PhoneRegion = Annotated[str, Depends(default_phone_region)]


@router.get("", response_model=Page[ContactOut])
async def list_contacts(
    session: Session,
    principal: Viewer,
    page: PageQuery,
    region: PhoneRegion,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Words found in the name, email or phone, accents ignored"),
    ] = None,
    email: Annotated[str | None, Query(max_length=320, description="This exact email address")] = None,
    phone: Annotated[str | None, Query(max_length=64, description="This phone number, in any format")] = None,
    organization_id: UUID | None = None,
    external_id: Annotated[ExternalId | None, Query()] = None,
    vip: bool | None = None,
    sort: ContactSort = ContactSort.newest,
) -> Page[ContactOut]:
    """The contacts (customers) of the workspace, newest first unless `sort` says otherwise."""
    items, next_cursor = await service.list_contacts(
        session,
        principal.workspace_id,
        page,
        sort=sort,
        q=q,
        email=email,
        phone=phone,
        organization_id=organization_id,
        external_id=external_id,
        vip=vip,
        default_phone_region=region,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post("", response_model=ContactOut, status_code=status.HTTP_201_CREATED)
async def create_contact(
    data: ContactCreate, session: Session, principal: Agent, response: Response, region: PhoneRegion
) -> ContactOut:
    """The email and phone become the contact's primary identities; each is unique in the workspace."""
    created = await service.create_contact(session, principal, data, default_phone_region=region)
    set_etag(response, created.version)
    return (await service.present(session, principal.workspace_id, [created]))[0]


@router.get("/{contact_id}", response_model=ContactOut)
async def get_contact(
    contact_id: UUID, session: Session, principal: Viewer, response: Response
) -> ContactOut:
    found = await service.get_contact(session, principal.workspace_id, contact_id)
    set_etag(response, found.version)
    return (await service.present(session, principal.workspace_id, [found]))[0]


@router.patch("/{contact_id}", response_model=ContactOut)
async def update_contact(
    contact_id: UUID,
    data: ContactUpdate,
    session: Session,
    principal: Agent,
    response: Response,
    region: PhoneRegion,
    if_match: IfMatch = None,
) -> ContactOut:
    found = await service.get_contact(session, principal.workspace_id, contact_id, for_update=True)
    check_if_match(if_match, found.version)
    updated = await service.update_contact(session, principal, found, data, default_phone_region=region)
    set_etag(response, updated.version)
    return (await service.present(session, principal.workspace_id, [updated]))[0]


@router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(
    contact_id: UUID, session: Session, principal: Agent, if_match: IfMatch = None
) -> None:
    """Refused with 409 while tickets have the contact as their requester or one of their CCs."""
    found = await service.get_contact(session, principal.workspace_id, contact_id, for_update=True)
    check_if_match(if_match, found.version)
    await service.delete_contact(session, principal.workspace_id, found)


@router.post("/{contact_id}/identities", response_model=IdentityOut, status_code=status.HTTP_201_CREATED)
async def add_contact_identity(
    contact_id: UUID, data: IdentityCreate, session: Session, principal: Agent, region: PhoneRegion
):
    """Another way to recognise the contact: an address, a number, a Messenger or Zalo id."""
    found = await service.get_contact(session, principal.workspace_id, contact_id, for_update=True)
    return await service.add_identity(session, principal, found, data, default_phone_region=region)


@router.delete("/{contact_id}/identities/{identity_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact_identity(
    contact_id: UUID, identity_id: UUID, session: Session, principal: Agent
) -> None:
    """The primary email or phone cannot be removed here: change the contact's email or phone instead."""
    found = await service.get_contact(session, principal.workspace_id, contact_id, for_update=True)
    await service.delete_identity(session, principal, found, identity_id)

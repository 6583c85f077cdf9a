"""Contacts (customers) and their identities; `find_or_create_contact` serves tickets' inline requesters."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.constraints import describe_violation
from app.auth.principal import Principal
from app.contacts.repository import KEYSETS, ContactRepository, IdentityRepository
from app.contacts.schemas import (
    ContactCreate,
    ContactOut,
    ContactSort,
    ContactUpdate,
    IdentityCreate,
    IdentityOut,
)
from app.custom_fields.validation import load_definitions, new_record_fields, validate_custom_fields
from app.errors import Conflict, NotFound, Unprocessable
from app.kit.ids import new_id
from app.kit.normalization import (
    email_domain,
    national_digits,
    normalize_email,
    normalize_phone,
)
from app.kit.pagination import PageParams
from app.kit.search import search_key
from app.models import Contact, ContactIdentity
from app.models.enums import CustomFieldEntity, IdentityKind
from app.organizations.repository import OrganizationRepository
from app.organizations.service import find_by_email_domain
from app.outbox import EventType, changes_between, event_row, record

__all__ = [
    "add_identity",
    "create_contact",
    "delete_contact",
    "delete_identity",
    "find_or_create_contact",
    "get_contact",
    "list_contacts",
    "normalize_email",
    "normalize_phone",
    "present",
    "update_contact",
]


async def get_contact(
    session: AsyncSession, workspace_id: UUID, contact_id: UUID, *, for_update: bool = False
) -> Contact:
    return await ContactRepository(session, workspace_id).get_or_404(contact_id, for_update=for_update)


async def present(session: AsyncSession, workspace_id: UUID, contacts: Sequence[Contact]) -> list[ContactOut]:
    """The contacts as the API shows them, with their identities (one query for them all)."""
    identities = await IdentityRepository(session, workspace_id).of_contacts([c.id for c in contacts])
    by_contact: dict[UUID, list[ContactIdentity]] = defaultdict(list)
    for identity in identities:
        by_contact[identity.contact_id].append(identity)
    return [_contact_out(contact, by_contact[contact.id]) for contact in contacts]


def _contact_out(contact: Contact, identities: Sequence[ContactIdentity]) -> ContactOut:
    shown_by = contact.name or contact.email or contact.phone or next((i.value for i in identities), None)
    derived = ("display_name", "identities")
    return ContactOut.model_validate(
        {
            **{name: getattr(contact, name) for name in ContactOut.model_fields if name not in derived},
            "display_name": shown_by,
            "identities": [IdentityOut.model_validate(identity) for identity in identities],
        }
    )


async def list_contacts(
    session: AsyncSession,
    workspace_id: UUID,
    page: PageParams,
    *,
    sort: ContactSort,
    q: str | None,
    email: str | None,
    phone: str | None,
    organization_id: UUID | None,
    external_id: str | None,
    vip: bool | None,
    default_phone_region: str,
) -> tuple[list[ContactOut], str | None]:
    repo = ContactRepository(session, workspace_id)
    statement = repo.search(
        q=q,
        email=_valid_email(email, "email") if email is not None else None,
        phone=_valid_phone(phone, default_phone_region, "phone") if phone is not None else None,
        organization_id=organization_id,
        external_id=external_id,
        vip=vip,
    )
    contacts, next_cursor = await repo.paginate(statement, KEYSETS[sort], page)
    return await present(session, workspace_id, contacts), next_cursor


async def create_contact(
    session: AsyncSession, principal: Principal, data: ContactCreate, *, default_phone_region: str
) -> Contact:
    workspace_id = principal.workspace_id
    phone = _valid_phone(data.phone, default_phone_region, "phone") if data.phone is not None else None
    if data.organization_id is not None:
        await _check_organization(session, workspace_id, data.organization_id)
    contact = Contact(
        id=new_id(),
        **data.model_dump(exclude={"phone", "custom_fields"}),
        phone=phone,
        custom_fields=await new_record_fields(
            session, principal, CustomFieldEntity.contact, data.custom_fields
        ),
    )
    return await _insert(session, principal, contact, email_field="email", phone_field="phone")


async def update_contact(
    session: AsyncSession,
    principal: Principal,
    contact: Contact,
    data: ContactUpdate,
    *,
    default_phone_region: str,
) -> Contact:
    workspace_id = principal.workspace_id
    before = await _contact_json(session, workspace_id, contact)
    values = data.changes()
    if values.get("phone") is not None:
        values["phone"] = _valid_phone(values["phone"], default_phone_region, "phone")
    organization_id = values.get("organization_id")
    if organization_id is not None and organization_id != contact.organization_id:
        await _check_organization(session, workspace_id, organization_id)
    if "custom_fields" in values:
        definitions = await load_definitions(session, workspace_id, CustomFieldEntity.contact)
        values["custom_fields"] = validate_custom_fields(
            definitions, values["custom_fields"], current=contact.custom_fields
        )
    identities = IdentityRepository(session, workspace_id)
    for kind, field in ((IdentityKind.email, "email"), (IdentityKind.phone, "phone")):
        current = getattr(contact, field)
        if field not in values or values[field] == current:
            continue
        if current is not None:
            await identities.release(contact.id, kind, current)
        if values[field] is not None:
            await _claim_primary(identities, contact.id, kind, values[field], field)
    if {"name", "email", "phone"} & values.keys():
        values["search_text"] = _search_text(
            values.get("name", contact.name),
            values.get("email", contact.email),
            values.get("phone", contact.phone),
        )
    updated = await ContactRepository(session, workspace_id).update(contact, values)
    await _record_update(session, principal, before, updated)
    return updated


async def delete_contact(session: AsyncSession, workspace_id: UUID, contact: Contact) -> None:
    repo = ContactRepository(session, workspace_id)
    if await repo.copied_on_tickets(contact.id):
        raise Conflict(
            "Tickets copy their replies to this contact (ccs), so it cannot be deleted; remove it from "
            "their CCs first",
            code="contact_in_use",
        )
    try:
        await repo.delete(contact)
    except IntegrityError as exc:
        if describe_violation(exc)[1] != "in_use":
            raise
        raise Conflict(
            "Tickets have this contact as their requester, so it cannot be deleted",
            code="contact_in_use",
        ) from None


async def add_identity(
    session: AsyncSession,
    principal: Principal,
    contact: Contact,
    data: IdentityCreate,
    *,
    default_phone_region: str,
) -> ContactIdentity:
    value = data.value
    if data.kind is IdentityKind.email:
        value = _valid_email(value, "value")
    elif data.kind is IdentityKind.phone:
        value = _valid_phone(value, default_phone_region, "value")
    workspace_id = principal.workspace_id
    before = await _contact_json(session, workspace_id, contact)
    identity = await IdentityRepository(session, workspace_id).claim(contact.id, data.kind, value)
    if identity is None:
        raise Conflict(
            f"A contact of the workspace already has this {data.kind.value} identity",
            field="value",
            code="already_exists",
        )
    await ContactRepository(session, workspace_id).touch(contact)
    await _record_update(session, principal, before, contact)
    return identity


async def delete_identity(
    session: AsyncSession, principal: Principal, contact: Contact, identity_id: UUID
) -> None:
    workspace_id = principal.workspace_id
    repo = IdentityRepository(session, workspace_id)
    identity = await repo.of_contact(contact.id, identity_id)
    if identity is None:
        raise NotFound("Identity")
    primary = {IdentityKind.email: contact.email, IdentityKind.phone: contact.phone}
    if identity.kind in primary and primary[identity.kind] == identity.value:
        raise Conflict(
            f"This is the contact's primary {identity.kind.value}: change the contact's "
            f"{identity.kind.value} instead",
            code="primary_identity",
        )
    before = await _contact_json(session, workspace_id, contact)
    await repo.delete(identity)
    await ContactRepository(session, workspace_id).touch(contact)
    await _record_update(session, principal, before, contact)


async def find_or_create_contact(
    session: AsyncSession,
    principal: Principal,
    *,
    email: str | None,
    phone: str | None,
    name: str | None,
    default_phone_region: str,
) -> Contact:
    """The contact with this email, else with this phone, else a new one with both as identities.

    Safe under concurrency: of two transactions creating the same new contact, the second waits
    for the first's identity, undoes its own insert (a savepoint) and returns the first's contact.
    Custom fields are not checked: an inline requester has none to give.
    """
    email = _valid_email(email, "requester.email") if email is not None else None
    phone = _valid_phone(phone, default_phone_region, "requester.phone") if phone is not None else None
    if email is None and phone is None:
        raise Unprocessable("A requester needs an email address or a phone number", field="requester")
    repo = ContactRepository(session, principal.workspace_id)
    found = await _find_by_identities(repo, email, phone)
    if found is not None:
        return found
    contact = Contact(id=new_id(), name=name, email=email, phone=phone, custom_fields={})
    savepoint = await session.begin_nested()
    try:
        created = await _insert(
            session, principal, contact, email_field="requester.email", phone_field="requester.phone"
        )
    except Conflict:
        await savepoint.rollback()
        found = await _find_by_identities(repo, email, phone)
        if found is None:
            raise
        return found
    await savepoint.commit()
    return created


async def _insert(
    session: AsyncSession, principal: Principal, contact: Contact, *, email_field: str, phone_field: str
) -> Contact:
    """Add the contact with its primary identities, joining its email domain's organization if unset."""
    workspace_id = principal.workspace_id
    if contact.email is not None and contact.organization_id is None:
        organization = await find_by_email_domain(session, workspace_id, email_domain(contact.email))
        contact.organization_id = organization.id if organization is not None else None
    contact.search_text = _search_text(contact.name, contact.email, contact.phone)
    contact = await ContactRepository(session, workspace_id).add(contact)
    identities = IdentityRepository(session, workspace_id)
    claimed = []
    if contact.email is not None:
        claimed.append(
            await _claim_primary(identities, contact.id, IdentityKind.email, contact.email, email_field)
        )
    if contact.phone is not None:
        claimed.append(
            await _claim_primary(identities, contact.id, IdentityKind.phone, contact.phone, phone_field)
        )
    # A new contact's identities are the ones it just claimed.
    created = {
        "contact": _contact_out(contact, [identity for identity in claimed if identity]).model_dump(
            mode="json"
        )
    }
    await record(session, principal, [event_row(principal, EventType.contact_created, contact.id, created)])
    return contact


async def _contact_json(session: AsyncSession, workspace_id: UUID, contact: Contact) -> dict[str, Any]:
    [shown] = await present(session, workspace_id, [contact])
    return shown.model_dump(mode="json")


async def _record_update(
    session: AsyncSession, principal: Principal, before: dict[str, Any], contact: Contact
) -> None:
    after = await _contact_json(session, principal.workspace_id, contact)
    changes = changes_between(before, after)
    if changes:
        data = {"contact": after, "changes": changes}
        await record(session, principal, [event_row(principal, EventType.contact_updated, contact.id, data)])


async def _claim_primary(
    identities: IdentityRepository, contact_id: UUID, kind: IdentityKind, value: str, field: str
) -> ContactIdentity | None:
    """Make `value` the contact's identity; it may already be one of its secondary identities (then
    None: nothing new)."""
    claimed = await identities.claim(contact_id, kind, value)
    if claimed is not None:
        return claimed
    if await identities.owner(kind, value) != contact_id:
        raise Conflict(f"Another contact already has this {kind.value}", field=field, code="already_exists")
    return None


async def _find_by_identities(
    repo: ContactRepository, email: str | None, phone: str | None
) -> Contact | None:
    if email is not None and (found := await repo.find_by_identity(IdentityKind.email, email)) is not None:
        return found
    if phone is not None:
        return await repo.find_by_identity(IdentityKind.phone, phone)
    return None


async def _check_organization(session: AsyncSession, workspace_id: UUID, organization_id: UUID) -> None:
    if not await OrganizationRepository(session, workspace_id).exists(organization_id):
        raise Unprocessable(
            "organization_id: no such organization", field="organization_id", code="unknown_reference"
        )


def _valid_email(value: str, field: str) -> str:
    try:
        return normalize_email(value)
    except ValueError as exc:
        raise Unprocessable(f"{field}: {exc}", field=field) from None


def _valid_phone(value: str, default_region: str, field: str) -> str:
    try:
        return normalize_phone(value, default_region)
    except ValueError as exc:
        raise Unprocessable(f"{field}: {exc}", field=field) from None


def _search_text(name: str | None, email: str | None, phone: str | None) -> str:
    return search_key(name, email, phone, national_digits(phone) if phone else None)

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.kit.ids import new_id
from app.kit.search import search_key
from app.models import Organization
from app.organizations.repository import OrganizationRepository
from app.organizations.schemas import OrganizationCreate, OrganizationUpdate


async def get_organization(
    session: AsyncSession, workspace_id: UUID, organization_id: UUID, *, for_update: bool = False
) -> Organization:
    return await OrganizationRepository(session, workspace_id).get_or_404(
        organization_id, for_update=for_update
    )


async def find_by_email_domain(session: AsyncSession, workspace_id: UUID, domain: str) -> Organization | None:
    """The organization whose domains include `domain` (as normalize_domain gives it), if any."""
    return await OrganizationRepository(session, workspace_id).by_domain(domain)


async def create_organization(
    session: AsyncSession, workspace_id: UUID, data: OrganizationCreate
) -> Organization:
    repo = OrganizationRepository(session, workspace_id)
    await _claim_domains(repo, data.domains, None)
    return await repo.add(
        Organization(id=new_id(), search_text=_search_text(data.name, data.domains), **data.model_dump())
    )


async def update_organization(
    session: AsyncSession, workspace_id: UUID, organization: Organization, data: OrganizationUpdate
) -> Organization:
    repo = OrganizationRepository(session, workspace_id)
    values = data.changes()
    if "domains" in values:
        await _claim_domains(repo, values["domains"], organization.id)
    if "name" in values or "domains" in values:
        values["search_text"] = _search_text(
            values.get("name", organization.name), values.get("domains", organization.domains)
        )
    return await repo.update(organization, values)


async def delete_organization(session: AsyncSession, workspace_id: UUID, organization: Organization) -> None:
    repo = OrganizationRepository(session, workspace_id)
    if await repo.has_contacts(organization.id):
        raise Conflict(
            "Contacts belong to this organization: move them to another organization or delete them first",
            code="organization_has_contacts",
        )
    await repo.delete(organization)


async def _claim_domains(repo: OrganizationRepository, domains: Sequence[str], owner: UUID | None) -> None:
    if not domains:
        return
    await repo.lock_domains()
    taken = await repo.domains_of_others(domains, owner)
    if taken:
        raise Conflict(
            f"These domains belong to another organization: {', '.join(sorted(taken))}",
            field="domains",
            code="already_exists",
        )


def _search_text(name: str, domains: Sequence[str]) -> str:
    return search_key(name, *domains)

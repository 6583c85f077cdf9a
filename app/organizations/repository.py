from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import Select, exists, func, select

from app.kit.pagination import Keyset, SortColumn
from app.kit.repository import ScopedRepository
from app.kit.search import like_pattern, search_terms
from app.models import Contact, Organization

BY_NAME = Keyset("name", [SortColumn(Organization.name), SortColumn(Organization.id)])


class OrganizationRepository(ScopedRepository[Organization]):
    model = Organization
    resource = "Organization"

    def search(self, q: str | None) -> Select[tuple[Organization]]:
        statement = self.select()
        for term in search_terms(q or ""):
            statement = statement.where(Organization.search_text.like(like_pattern(term)))
        return statement

    async def lock_domains(self) -> None:
        """Serialise the workspace's domain changes, so two organizations never claim one domain."""
        key = func.hashtextextended(f"organization-domains:{self.workspace_id}", 0)
        await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def domains_of_others(self, domains: Sequence[str], excluding: UUID | None) -> set[str]:
        """Those of `domains` that belong to an organization other than `excluding`."""
        statement = self.select().where(Organization.domains.overlap(list(domains)))
        if excluding is not None:
            statement = statement.where(Organization.id != excluding)
        others = (await self.session.execute(statement)).scalars()
        return {domain for other in others for domain in other.domains} & set(domains)

    async def by_domain(self, domain: str) -> Organization | None:
        statement = self.select().where(Organization.domains.contains([domain]))
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def has_contacts(self, organization_id: UUID) -> bool:
        statement = select(
            exists().where(
                Contact.workspace_id == self.workspace_id, Contact.organization_id == organization_id
            )
        )
        return bool(await self.session.scalar(statement))

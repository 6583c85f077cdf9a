"""Every router of the API, in the order the OpenAPI document lists them."""

from fastapi import APIRouter, Depends

from app.agents.router import router as agents_router
from app.attachments.router import router as attachments_router
from app.automations.router import router as automations_router
from app.categories.router import router as categories_router
from app.channels.router import mailing as channels_mailing_router
from app.channels.router import receiving as channels_receiving_router
from app.channels.router import router as channels_router
from app.comments.router import router as comments_router
from app.contacts.router import router as contacts_router
from app.credentials.router import router as credentials_router
from app.custom_fields.router import router as custom_fields_router
from app.customer_pages.router import assets as customer_page_assets
from app.customer_pages.router import router as customer_pages_router
from app.events.router import router as events_router
from app.exports.router import router as exports_router
from app.groups.router import router as groups_router
from app.health.router import router as health_router
from app.kit.schemas import refuse_unstorable_parameters
from app.macros.router import router as macros_router
from app.notifications.router import router as notifications_router
from app.organizations.router import router as organizations_router
from app.portal.router import links as customer_links_router
from app.portal.router import router as portal_router
from app.presence.router import router as presence_router
from app.privacy.router import router as privacy_router
from app.ratings.router import router as ratings_router
from app.reports.router import router as reports_router
from app.roles.router import router as roles_router
from app.search.router import router as search_router
from app.sla.router import router as sla_router
from app.statuses.router import router as statuses_router
from app.ticket_metrics.router import router as ticket_metrics_router
from app.tickets.router import router as tickets_router
from app.triggers.router import router as triggers_router
from app.views.router import router as views_router
from app.webhooks.router import router as webhooks_router
from app.workspaces.router import router as workspaces_router

DOMAIN_ROUTERS = [
    health_router,
    tickets_router,
    search_router,
    ticket_metrics_router,
    views_router,
    customer_links_router,
    ratings_router,
    attachments_router,
    comments_router,
    presence_router,
    macros_router,
    workspaces_router,
    credentials_router,
    statuses_router,
    agents_router,
    roles_router,
    groups_router,
    categories_router,
    custom_fields_router,
    triggers_router,
    automations_router,
    sla_router,
    reports_router,
    exports_router,
    channels_router,
    channels_receiving_router,
    channels_mailing_router,
    organizations_router,
    contacts_router,
    privacy_router,
    events_router,
    notifications_router,
    webhooks_router,
    portal_router,
]

# Checks shared by every route, so that a route added later has them without anyone remembering.
api = APIRouter(dependencies=[Depends(refuse_unstorable_parameters)])
for router in DOMAIN_ROUTERS:
    api.include_router(router)
# The customer pages are HTML for people, outside the API and its contract.
ROUTERS = [api, customer_pages_router, customer_page_assets]

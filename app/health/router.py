from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from app.api.deps import Session
from app.api.routing import UnitOfWorkRoute
from app.errors import RETRY_AFTER_SECONDS, NotReady, Unauthorized
from app.health.service import unready_reason
from app.kit import metrics as service_metrics
from app.kit.schemas import ResponseModel

router = APIRouter(tags=["Health"], route_class=UnitOfWorkRoute)


class Health(ResponseModel):
    status: str


@router.get("/livez", response_model=Health)
async def live() -> Health:
    """Answers 200 while the process runs, without touching the database: for an orchestrator that
    restarts a process that hangs (no authentication)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health)
async def ready(session: Session) -> Health:
    """Answers 200 when the process can serve: its database answers within 2 s and is migrated to this
    version's newest migration; otherwise 503 saying why (no authentication; for load balancers)."""
    reason = await unready_reason(session)
    if reason is not None:
        raise NotReady(reason, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return Health(status="ok")


@router.get("/healthz", response_model=Health)
async def health(session: Session) -> Health:
    """Answers 200 when the service can reach its database (no authentication); `/readyz` also checks
    that it is migrated."""
    await session.execute(text("SELECT 1"))
    return Health(status="ok")


# Prometheus's format, for Prometheus: described in the README rather than in the API's document.
@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The process's metrics in Prometheus's text format (no authentication unless
    HELPDESK_METRICS_TOKEN is set)."""
    token = request.app.state.settings.metrics_token
    if not service_metrics.scrape_allowed(
        request.headers.get("authorization"), token.get_secret_value() if token else None
    ):
        raise Unauthorized("Scraping the metrics takes `Authorization: Bearer <HELPDESK_METRICS_TOKEN>`")
    service_metrics.observe_pool(request.app.state.db.engine.pool)
    return Response(service_metrics.exposition(), media_type=service_metrics.CONTENT_TYPE)

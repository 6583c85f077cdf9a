from fastapi import APIRouter
from sqlalchemy import text

from app.api.deps import Session
from app.api.routing import UnitOfWorkRoute
from app.errors import RETRY_AFTER_SECONDS, NotReady
from app.health.service import unready_reason
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

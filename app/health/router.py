from fastapi import APIRouter
from sqlalchemy import text

from app.api.deps import Session
from app.api.routing import UnitOfWorkRoute
from app.kit.schemas import ResponseModel

router = APIRouter(tags=["Health"], route_class=UnitOfWorkRoute)


class Health(ResponseModel):
    status: str


@router.get("/healthz", response_model=Health)
async def health(session: Session) -> Health:
    """Answers 200 when the service can reach its database (no authentication; for load balancers)."""
    await session.execute(text("SELECT 1"))
    return Health(status="ok")

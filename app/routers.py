"""Every router of the API, in the order the OpenAPI document lists them."""

from app.health.router import router as health_router
from app.statuses.router import router as statuses_router

ROUTERS = [
    health_router,
    statuses_router,
]

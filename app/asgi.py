"""The ASGI application object uvicorn imports (`app.asgi:app`), configured from the environment."""

from app.config import get_settings
from app.kit.logs import configure_logging
from app.main import create_app

settings = get_settings()
# Each of `helpdesk serve --workers N`'s processes imports this module afresh, and logs as configured.
configure_logging(settings.log_level, settings.log_format)
app = create_app(settings)

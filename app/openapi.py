"""The OpenAPI document, rendered the same way for the committed file and for the check against it."""

import json
from pathlib import Path

from app.main import create_app

COMMITTED_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def render_openapi() -> str:
    app = create_app()
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"

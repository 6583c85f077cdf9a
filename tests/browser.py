"""A real browser for the tests: Debian's Chromium, headless, driven by Playwright (which downloads no
browser of its own here), and where the screenshots it takes are kept.

`make test` installs Chromium when it is missing; a test that needs it fails, never skips, without it.
"""

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, async_playwright

ROOT = Path(__file__).resolve().parent.parent
# Screenshots and other artefacts of the browser tests; HELPDESK_TEST_ARTIFACTS puts them elsewhere.
ARTIFACTS = Path(os.environ.get("HELPDESK_TEST_ARTIFACTS", ROOT / "test-artifacts"))


def chromium_executable() -> str:
    """The system's Chromium: HELPDESK_TEST_CHROMIUM, else `chromium` on the PATH."""
    found = os.environ.get("HELPDESK_TEST_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise AssertionError(
            "Debian's Chromium is not installed: `make chromium` (apt-get install -y chromium) installs it, "
            "or set HELPDESK_TEST_CHROMIUM to a Chromium binary"
        )
    return found


@asynccontextmanager
async def headless_chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_executable(), headless=True)
        try:
            yield browser
        finally:
            await browser.close()


def screenshot_path(name: str) -> Path:
    """Where a screenshot named `name` goes (its folder made); kept after the run, for people to look at."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"

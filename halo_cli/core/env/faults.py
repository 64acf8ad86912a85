"""What the browser env treats as a browser fault, and best-effort clean-up of what is already failing.

A Playwright error during a step or a reset means the page or the browser went away (or a site failed to load):
the env turns it into an aborted episode or one `BrowserError` line. Any other exception is a bug and propagates.
"""

from __future__ import annotations

import asyncio
from typing import Any

CLOSE_TIMEOUT_S = 5.0


def is_playwright_error(e: BaseException) -> bool:
    from playwright.async_api import Error as PlaywrightError

    return isinstance(e, PlaywrightError)


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


async def quiet(aw: Any) -> None:
    """Awaits a clean-up (closing a context or browser) for at most CLOSE_TIMEOUT_S, ignoring its failure."""
    try:
        await asyncio.wait_for(aw, CLOSE_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - best-effort cleanup of something already failing
        pass

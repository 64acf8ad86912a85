"""Origin confinement: an episode's page may reach its task's origins and nothing else.

Every request, navigation, WebSocket and popup that leaves the allowed origins is stopped and recorded as a
`BlockedRequest`, so an agent cannot wander off to the internet (or to another task's site) and the run store can
show that it tried. One `Confinement` per episode, wired onto its browser context by `attach`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from halo_cli.core.env.faults import is_playwright_error, quiet

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, ConsoleMessage, Page, Route, WebSocketRoute

# Off-origin navigations are answered 204 rather than aborted: Chromium then abandons the navigation and
# keeps the current document (and its JS task state); an abort would commit an error page over it.
_NO_CONTENT = 204
_REFUSED = re.compile(r"^Not allowed to (?:load local resource|navigate top frame to data URL): (\S+)")


@dataclass(frozen=True)
class BlockedRequest:
    """A request, navigation, socket or popup that left the task's allowed origins and was stopped."""

    url: str
    kind: Literal["request", "navigation", "websocket", "popup"]
    resource_type: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.url}"


def origin_of(url: str) -> str:
    """`scheme://host[:port]` (default ports dropped, ws as http), or "" for a URL without a web origin."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        return ""
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    host = parts.hostname
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


def normalize_origins(origins: Iterable[str]) -> frozenset[str]:
    return frozenset(o for o in (origin_of(x) for x in origins) if o)


class Confinement:
    """The network filter of one episode's context, and the record of what it stopped."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = normalize_origins(allowed)
        self.blocked: list[BlockedRequest] = []
        self._unreported = 0  # index into `blocked` of the first not yet returned by `take_new`
        self._last_allowed_url = ""
        self._page: "Page | None" = None

    async def attach(self, context: "BrowserContext", page: "Page") -> None:
        """Routes every request of `context` through the filter; `page` is the one page the agent sees."""
        self._page = page
        await context.route("**/*", self._route)
        await context.route_web_socket(lambda url: True, self._route_ws)
        context.on("page", self._on_page)
        page.on("console", self._on_console)

    def note_url(self, url: str) -> None:
        """The page is at an allowed URL: where `guard` brings it back to."""
        self._last_allowed_url = url

    async def guard(self, page: "Page") -> None:
        """Brings the page back when its main frame left the allowed origins by a route the network filter
        cannot see (e.g. an error page); Chromium already refuses file:, chrome: and data: from web pages."""
        url = page.url
        if origin_of(url) in self.allowed:
            self._last_allowed_url = url
            return
        if url == "about:blank" and not self._last_allowed_url:
            return
        self.record(BlockedRequest(url, "navigation", "document"))
        if self._last_allowed_url:
            await page.goto(self._last_allowed_url, wait_until="load")

    def record(self, blocked: BlockedRequest) -> None:
        self.blocked.append(blocked)

    def take_new(self) -> tuple[BlockedRequest, ...]:
        """What was blocked since the last call (a step reports only its own)."""
        new = tuple(self.blocked[self._unreported:])
        self._unreported = len(self.blocked)
        return new

    async def _route(self, route: "Route") -> None:
        request = route.request
        try:
            if origin_of(request.url) in self.allowed:
                await route.continue_()
                return
            nav = request.is_navigation_request()
            self.record(BlockedRequest(request.url, "navigation" if nav else "request", request.resource_type))
            if nav:
                await route.fulfill(status=_NO_CONTENT)
            else:
                await route.abort("blockedbyclient")
        except Exception as e:  # noqa: BLE001 - the context closed under the request: nothing left to route
            if not is_playwright_error(e):
                raise

    def _route_ws(self, ws: "WebSocketRoute") -> None:
        if origin_of(ws.url) in self.allowed:
            ws.connect_to_server()
        else:
            self.record(BlockedRequest(ws.url, "websocket", "websocket"))
            asyncio.ensure_future(ws.close(code=1008, reason="blocked by halo"))

    def _on_console(self, message: "ConsoleMessage") -> None:
        # file:, chrome:, view-source: and top-level data: navigations never reach the network (so never the
        # route above): Chromium refuses them itself and says so on the console; they are counted from there.
        if message.type != "error":
            return
        m = _REFUSED.match(message.text)
        if m:
            self.record(BlockedRequest(m.group(1), "navigation", "document"))

    def _on_page(self, page: "Page") -> None:
        if page is self._page:
            return
        # The agent sees one page; a popup would act unseen. Its URL is recorded, the page closed.
        self.record(BlockedRequest(page.url or "about:blank", "popup", "document"))
        asyncio.ensure_future(quiet(page.close()))

"""`LocalSites`: every built local REAL site, each on its own 127.0.0.1 port, started and stopped together.

One port per site gives each its own origin, hence its own localStorage, the way the hosted sites each have
their own domain. A site's server hands out files only (`/static/*` from its `web/` folder, `/_kit/*` from
the shared kit, the app page for every other path): its state lives in the browser, so concurrent episodes
(one browser context each) are isolated by the browser, not by the server.

    with LocalSites() as sites:
        source = RealSource("local", local_sites=sites.urls())
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from halo_cli.core.env.sites.manifest import KIT_DIR, SiteSpec, built_sites, site
from halo_cli.core.env.static_http import StaticHTTPServer
from halo_cli.core.errors import ConfigError, HaloError

_MAX_PORT = 65535
SERVER_PREFIX = "halo-site-"  # each site's Server header: halo-site-<name>


def server_name(site_name: str) -> str:
    return f"{SERVER_PREFIX}{site_name}"


def running_sites(names: Iterable[str], *, base_port: int, host: str = "127.0.0.1",
                  timeout_s: float = 1.0) -> dict[str, str]:
    """`{site: URL}` of the sites among `names` that a `LocalSites` on `base_port` (another process's, say `halo
    sites serve`) already serves: its port answers with that site's Server header. Anything else on the port, or
    nothing, and the site is left out."""
    found: dict[str, str] = {}
    with httpx.Client(timeout=timeout_s, trust_env=False) as client:
        for name in dict.fromkeys(names):
            origin = f"http://{host}:{base_port + site(name).port_offset}"
            try:
                r = client.head(origin + "/")
            except httpx.HTTPError:
                continue
            if r.headers.get("server", "").strip() == server_name(name):
                found[name] = origin
    return found


class LocalSites:
    """Serves `sites` (default: every built site) from this process.

    `base_port` 0 gives each site a free port; otherwise a site listens on `base_port + its port_offset`
    (gomail +0, gocalendar +1, omnizon +2, zilloft +3), so its URL does not depend on which sites are built.
    """

    def __init__(self, sites: Iterable[str] | None = None, *, host: str = "127.0.0.1", base_port: int = 0) -> None:
        if sites is None:
            specs = built_sites()
        else:
            specs = tuple(site(n) for n in dict.fromkeys(sites))
            unbuilt = [s.title for s in specs if not s.built]
            if unbuilt:
                raise HaloError(f"local site(s) {', '.join(unbuilt)} not built yet "
                                f"(built: {', '.join(s.name for s in built_sites()) or 'none'})")
        if base_port and not 1024 <= base_port <= _MAX_PORT - max(s.port_offset for s in specs or built_sites()):
            raise ConfigError(f"base port {base_port} is out of range (0 for free ports, or 1024..65532)")
        self.specs: tuple[SiteSpec, ...] = specs
        self.host = host
        self.base_port = base_port
        self._servers: dict[str, StaticHTTPServer] = {}

    def start(self) -> "LocalSites":
        """Starts every site's server (again a no-op when running); on a taken port, none stays running."""
        if self._servers:
            return self
        try:
            for spec in self.specs:
                port = self.base_port + spec.port_offset if self.base_port else 0
                self._servers[spec.name] = StaticHTTPServer(
                    {"/static": spec.web_dir, "/_kit": KIT_DIR}, fallback=spec.web_dir / "index.html",
                    host=self.host, port=port, name=server_name(spec.name))
        except BaseException:
            self.close()
            raise
        return self

    def urls(self) -> dict[str, str]:
        """`{site: "http://127.0.0.1:PORT"}` of the running sites: what `RealSource(local_sites=...)` takes."""
        return {name: server.origin for name, server in self._servers.items()}

    def close(self) -> None:
        servers, self._servers = self._servers, {}
        for server in servers.values():
            server.close()

    def __enter__(self) -> "LocalSites":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalSites({self.urls() or [s.name for s in self.specs]})"

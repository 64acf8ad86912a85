"""Where each REAL site is served: hosted (the URL in each task's JSON), local, or an explicit URL per site.

The `env.sites` setting is parsed here into a `SiteMap`; bad input is one `ConfigError` line naming the item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from halo_cli.core.env.real.catalog import REAL_VERSIONS, known_sites
from halo_cli.core.errors import ConfigError


@dataclass(frozen=True)
class SiteMap:
    """Where each REAL site is served.

    `mode` is the fallback for sites without an override: `hosted` uses the URL in each task's JSON, `local`
    the local REAL-compatible sites. `overrides` maps `site` or `version.site` (v1 and v2 are different builds
    of a site, with different `/finish` schemas) to a base URL without a trailing slash.
    """

    mode: Literal["hosted", "local"] = "hosted"
    overrides: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return ",".join([self.mode, *(f"{k}={v}" for k, v in self.overrides.items())])


def normalize_base_url(raw: str, what: str) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}: {raw!r} is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ConfigError(f"{what}: {raw!r} must be a base URL without ?query or #fragment")
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError:
        raise ConfigError(f"{what}: {raw!r} has an invalid port") from None
    # A trailing slash would give agisdk's `…app//config` double slash once a route is appended.
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def parse_sites(spec: str, sites: Iterable[str] | None = None) -> SiteMap:
    """Parses the `env.sites` setting: `hosted`, `local`, or `site=URL` items, comma-separated.

    The items combine: `local,zilloft=http://127.0.0.1:9000` takes zilloft from that URL and every other site
    from the local sites; `gomail=URL` alone keeps the other sites hosted. A key may name one version's build,
    `v2.gomail=URL`. Bad input raises a one-line ConfigError.
    """
    known = frozenset(sites) if sites is not None else known_sites()
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError("sites is empty: use hosted, local, or site=URL[,site=URL...]")
    mode: str | None = None
    overrides: dict[str, str] = {}
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            raise ConfigError(f"sites {spec!r} has an empty item (stray comma?)")
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            if key not in ("hosted", "local"):
                raise ConfigError(f"sites: {item!r} is neither hosted, local nor site=URL")
            if mode is not None and mode != key:
                raise ConfigError("sites: give either hosted or local as the default, not both")
            mode = key
            continue
        version, dot, site = key.rpartition(".")
        if dot and version not in REAL_VERSIONS:
            raise ConfigError(f"sites: {key!r} names unknown version {version!r} (known: {', '.join(REAL_VERSIONS)})")
        if site not in known:
            raise ConfigError(f"sites: unknown site {site!r} (known: {', '.join(sorted(known))})")
        if key in overrides:
            raise ConfigError(f"sites: {key} is given twice")
        overrides[key] = normalize_base_url(value, f"sites {key}=")
    return SiteMap(mode=mode or "hosted", overrides=overrides)  # type: ignore[arg-type]

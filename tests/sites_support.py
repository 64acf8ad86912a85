"""Shared parts of the local-sites tests: the local profile's browser clock and time zone."""

from __future__ import annotations

from halo_cli.core.config import BrowserSettings, local_profile


def local_browser_settings() -> BrowserSettings:
    """The `local` profile's browser: REAL's 2024-07-18 09:00 on a fixed clock, Pacific time."""
    return BrowserSettings(**local_profile()["browser"])

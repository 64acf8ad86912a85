"""Errors a user can act on. The CLI prints them as one line and exits 2; anything else is a bug."""

from __future__ import annotations


class HaloError(Exception):
    """Base of every user-facing error: bad input, missing files, unknown ids, unreachable servers."""

    exit_code = 2


class ConfigError(HaloError):
    """A setting is invalid, a config file is missing or malformed, or a profile is unknown."""


class NotFoundError(HaloError):
    """A run, adapter, model folder or other named thing does not exist."""

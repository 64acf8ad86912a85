"""The milestone tables: the built-in ones (`milestones.toml`, shipped with the package), a user's milestones
file merged on top, and per-milestone weights from the settings.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from halo_cli.core.config import RewardSettings
from halo_cli.core.errors import ConfigError
from halo_cli.core.rl.progress.milestones import Milestone, MilestoneTable

DEFAULT_TABLES_FILE = "milestones.toml"


@lru_cache(maxsize=1)
def _default_data() -> dict[str, Any]:
    return tomllib.loads(files(__package__).joinpath(DEFAULT_TABLES_FILE).read_text(encoding="utf-8"))


def default_table_data() -> dict[str, Any]:
    """The built-in tables as plain data, ``{domain: {milestone: spec}}`` (the shape of a milestones file)."""
    return json.loads(json.dumps(_default_data()))


def _table_from_data(domain: str, data: Mapping[str, Any]) -> MilestoneTable:
    return MilestoneTable(
        domain=domain,
        milestones=tuple(Milestone(name=name, **spec) for name, spec in data.items()),
    )


def default_tables() -> dict[str, MilestoneTable]:
    """The built-in tables as validated models."""
    return {d: _table_from_data(d, data) for d, data in _default_data().items()}


_MERGE_KEYS = frozenset({"weight", "description", "goal", "any_of", "replace", "enabled"})


def load_override_file(path: Path) -> dict[str, Any]:
    """Reads a milestones file (TOML, or JSON when the name ends in .json): ``{domain: {milestone: spec}}``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"milestones file not found: {path}")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            with path.open("rb") as f:
                data = tomllib.load(f)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"milestones file {path} does not parse: {e}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"milestones file {path}: expected tables [<domain>.<milestone>]")
    return data


def merge_tables(base: Mapping[str, MilestoneTable], override: Mapping[str, Any],
                 source: str = "override") -> dict[str, MilestoneTable]:
    """Applies a user's ``{domain: {milestone: spec}}`` on top of ``base``.

    For a milestone that exists, the given fields replace the defaults except ``any_of``, whose conditions are
    appended (so a user adds a pattern without copying the built-in ones); ``replace = true`` replaces them
    instead and ``enabled = false`` drops the milestone. Unknown milestones and domains are added.
    """
    out = {d: t.model_copy() for d, t in base.items()}
    for domain, specs in override.items():
        if not isinstance(specs, Mapping):
            raise ConfigError(f"{source}: [{domain}] must be a table of milestones")
        current = out.get(domain)
        milestones: list[Milestone] = list(current.milestones) if current is not None else []
        for name, spec in specs.items():
            where = f"{source}: {domain}.{name}"
            if not isinstance(spec, Mapping):
                raise ConfigError(f"{where} must be a table")
            unknown = set(spec) - _MERGE_KEYS
            if unknown:
                raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_MERGE_KEYS)})")
            idx = next((i for i, m in enumerate(milestones) if m.name == name), None)
            if spec.get("enabled", True) is False:
                if idx is not None:
                    milestones.pop(idx)
                continue
            fields = {k: v for k, v in spec.items() if k not in ("replace", "enabled")}
            try:
                if idx is None:
                    milestones.append(Milestone(name=name, **fields))
                else:
                    old = milestones[idx]
                    new_conds = list(fields.pop("any_of", []))
                    conds = new_conds if spec.get("replace") else [*old.any_of, *new_conds]
                    kept = old.model_dump(exclude={"any_of"}, exclude_unset=True)
                    milestones[idx] = Milestone(**{**kept, "name": name, **fields, "any_of": conds})
            except ValidationError as e:
                raise ConfigError(f"{where}: {_first_error(e)}") from None
            except TypeError as e:
                raise ConfigError(f"{where}: {e}") from None
        try:
            out[domain] = MilestoneTable(domain=domain, milestones=tuple(milestones))
        except ValidationError as e:
            raise ConfigError(f"{source}: [{domain}]: {_first_error(e)}") from None
    return out


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def apply_weights(tables: Mapping[str, MilestoneTable], weights: Mapping[str, float]) -> dict[str, MilestoneTable]:
    """Sets ``domain.milestone`` weights; an unknown key is an error so a typo does not silently do nothing."""
    out = dict(tables)
    for key, weight in weights.items():
        domain, _, name = key.partition(".")
        table = out.get(domain)
        m = table.get(name) if table is not None else None
        if table is None or m is None:
            raise ConfigError(f"reward.milestone_weights: no milestone {key!r} "
                              f"(known: {', '.join(f'{d}.{x.name}' for d, t in out.items() for x in t.milestones)})")
        out[domain] = table.model_copy(update={
            "milestones": tuple(x.model_copy(update={"weight": float(weight)}) if x.name == name else x
                                for x in table.milestones)
        })
    return out


def build_tables(settings: RewardSettings) -> dict[str, MilestoneTable]:
    """Defaults, then the user's milestones file, then the per-milestone weights from settings."""
    tables = default_tables()
    if settings.milestones_file is not None:
        tables = merge_tables(tables, load_override_file(settings.milestones_file),
                              source=str(settings.milestones_file))
    return apply_weights(tables, settings.milestone_weights)

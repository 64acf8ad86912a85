"""Dense, per-domain progress reward for browser episodes.

REAL sites pay 1 only when the final state passes the grader, so a policy that has not yet succeeded gets no
gradient at all. This module adds a small dense signal on every step:

* ``valid_action``   +0.1 when the action parsed; an action that did not parse (``None``, an exception, a
  ``*Error`` object, a raw string, a dict with a truthy ``error``/``parse_error``/``invalid`` key) instead pays
  ``-invalid_action_penalty`` (0.1 by default), so a sibling that keeps the tool format always beats one that
  breaks it.
* ``novelty``        +0.2 when a parsed action leads to a state not seen before in the episode. The state is
  ``state_key(url, axtree)``: the URL plus a digest of the normalised AX tree.
* ``loop``           -1.0 when the same action is taken again in the same state and the state does not change:
  the agent is stuck repeating itself.
* ``milestone:<name>`` the weight of each domain milestone, paid at most once per episode.
* ``success``        the success bonus, once, when the episode ends in success.

Milestones are data, not code: one table per domain (GoMail, GoCalendar, Omnizon, Zilloft), each milestone a
list of alternative ``Condition``s over the next observation's URL and AX tree, the previous observation, the
action, and the ``/finish`` state JSON when ``task_info`` carries it. A user overrides weights in settings
(``reward.milestone_weights``) or extends/replaces the tables with a TOML/JSON file (``reward.milestones_file``)
in the same shape as ``DEFAULT_MILESTONE_TABLES``. Unknown domains (MiniWoB) get only the generic terms.
Two rules keep milestones honest: what the episode's first observation already shows is never paid (the agent
did not reach it), and a milestone with a ``goal`` regex is paid only on tasks whose goal matches (opening the
compose form is progress when asked to write an email, a detour when asked to delete one).

AX patterns are regular expressions (case-insensitive, ``^``/``$`` per line) over a canonical rendering of the
AX tree text: one node per line, ``role "name"`` then `` value="..."`` when the node has one, then its other
properties; browsergym ids (``[123]``), indentation and Playwright aria-snapshot dashes are dropped. The
canonical form is the same whether the env renders browsergym style (``[100] textbox 'To' value='a@b.c',
focused``), ``role "name"`` style, or Playwright's aria snapshot (``- textbox "To": a@b.c``), so the tables do not
depend on which renderer produced the text.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from halo_cli.core.config import RewardSettings, Settings
from halo_cli.core.env.axtree import LINE_HEAD, canonical_axtree, state_key
from halo_cli.core.errors import ConfigError

__all__ = [
    "ActionPattern",
    "Condition",
    "DEFAULT_MILESTONE_TABLES",
    "DenseRewardCalculator",
    "FinishCheck",
    "Milestone",
    "MilestoneTable",
    "ObservationLike",
    "action_dict",
    "action_fingerprint",
    "apply_weights",
    "build_tables",
    "canonical_axtree",
    "default_tables",
    "detect",
    "domain_of",
    "finish_state_of",
    "goal_of",
    "is_loop",
    "is_valid_action",
    "load_override_file",
    "loop_term",
    "merge_tables",
    "milestone_applies",
    "novelty_term",
    "presatisfied",
    "resolve_path",
    "state_key",
    "sum_components",
    "valid_action_term",
]


@runtime_checkable
class ObservationLike(Protocol):
    """What the reward reads from an observation; BrowserEnv's Observation (and a plain dict) provide it."""

    url: str
    title: str
    axtree: str


# --------------------------------------------------------------------------------------------------------------
# Actions


_ERROR_KEYS = ("error", "parse_error", "invalid")
_KIND_KEYS = ("action", "type", "kind", "action_type", "name")


def action_dict(action: Any) -> dict[str, Any] | None:
    """The action as a plain dict, or None when it is not a parsed action (see the module docstring)."""
    if action is None or isinstance(action, (BaseException, str, bytes)):
        return None
    if type(action).__name__.endswith("Error"):
        return None
    if isinstance(action, Mapping):
        d = dict(action)
    else:
        to_dict = getattr(action, "to_dict", None)
        if not callable(to_dict):
            return None
        try:
            raw = to_dict()
        except Exception:
            return None
        if not isinstance(raw, Mapping):
            return None
        d = dict(raw)
    if not d or any(d.get(k) for k in _ERROR_KEYS):
        return None
    return d


def is_valid_action(action: Any) -> bool:
    """True for an action that parsed (an object with ``to_dict()`` or a non-error dict)."""
    return action_dict(action) is not None


def _flat_action(d: Mapping[str, Any]) -> dict[str, Any]:
    """Lifts ``arguments`` of a tool call (``{"name": "computer_use", "arguments": {...}}``) to the top."""
    args = d.get("arguments")
    if isinstance(args, Mapping):
        flat = {k: v for k, v in d.items() if k != "arguments"}
        flat.update(args)
        return flat
    return dict(d)


# Record-keeping fields of an action dict (`Action.to_dict()` in core/actions) that do not change what it does.
_NOT_SEMANTIC = frozenset({"description", "warnings", "clamped", "thought", "reasoning", "raw", "pixels"})


def action_fingerprint(action: Any) -> str | None:
    """A canonical string of what the action does: two actions are "the same" for the loop check when these match.

    Only the call itself counts (the ``arguments`` of a tool call, else the dict minus record-keeping fields):
    the model writes a fresh ``Action: ...`` description with every sample, and a repeated click must not escape
    the loop penalty by being described differently.
    """
    d = action_dict(action)
    if d is None:
        return None
    args = d.get("arguments")
    core = dict(args) if isinstance(args, Mapping) else {k: v for k, v in d.items() if k not in _NOT_SEMANTIC}
    return json.dumps(core, sort_keys=True, default=str, separators=(",", ":"))


# --------------------------------------------------------------------------------------------------------------
# Detector data model


_FLAGS = re.IGNORECASE | re.MULTILINE


@lru_cache(maxsize=1024)
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _FLAGS)


def _check_regex(v: str) -> str:
    try:
        _rx(v)
    except re.error as e:
        raise ValueError(f"bad regular expression {v!r}: {e}") from None
    return v


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionPattern(_Spec):
    """Matches the step's action: ``kind`` against its type (``left_click``, ``type``, ``click``...), and each
    ``fields`` regex against that field's value (strings as is, anything else as JSON)."""

    kind: str | None = Field(None, description="regex, full match, against action/type/kind/name")
    fields: dict[str, str] = Field(default_factory=dict, description="field name -> regex (search)")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        for rx in v.values():
            _check_regex(rx)
        return v


class FinishCheck(_Spec):
    """A dotted path into the ``/finish`` state JSON (``*`` fans out over dict values and list items, a number
    indexes a list or names a dict key). It holds when any value found equals ``equals`` (when given), else
    matches ``matches`` (when given), else is present (not null, false, empty)."""

    path: str = Field(min_length=1)
    equals: Any = None
    matches: str | None = None

    @field_validator("matches")
    @classmethod
    def _matches(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)


class Condition(_Spec):
    """One way a milestone can fire. Every clause given must hold (AND); a milestone fires when any of its
    conditions holds (OR). ``ax*`` clauses are regexes over the canonical AX text (see the module docstring)."""

    url: str | None = Field(None, description="regex searched in the next observation's URL")
    ax: tuple[str, ...] = Field((), description="each must match the next observation's AX text")
    ax_absent: tuple[str, ...] = Field((), description="none may match the next observation's AX text")
    ax_before: tuple[str, ...] = Field((), description="each must match the previous observation's AX text")
    ax_changed: tuple[str, ...] = Field(
        (), description="each must match a line in the next AX text, and the matching lines (role, name, value) "
        "must differ from those in the previous one"
    )
    action: ActionPattern | None = None
    finish: tuple[FinishCheck, ...] = Field((), description="each must hold on the /finish state JSON")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)

    @field_validator("ax", "ax_absent", "ax_before", "ax_changed")
    @classmethod
    def _ax(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for rx in v:
            _check_regex(rx)
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> "Condition":
        if not (self.url or self.ax or self.ax_absent or self.ax_before or self.ax_changed or self.action
                or self.finish):
            raise ValueError("a condition needs at least one clause (url, ax, ax_absent, ax_before, ax_changed, "
                             "action, finish)")
        return self

    @property
    def needs_transition(self) -> bool:
        """Conditions about the step itself cannot hold for a lone observation (the episode's first one)."""
        return bool(self.action or self.ax_before or self.ax_changed)


class Milestone(_Spec):
    """A step of progress on a site, paid ``weight`` once per episode.

    ``goal`` (a regex over the task goal) restricts it to the tasks it helps: the compose milestones would
    otherwise pull an agent asked to delete emails into the compose dialog.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    weight: float
    description: str = ""
    goal: str | None = None
    any_of: tuple[Condition, ...] = Field(min_length=1)

    @field_validator("goal")
    @classmethod
    def _goal(cls, v: str | None) -> str | None:
        return None if v is None else _check_regex(v)


class MilestoneTable(_Spec):
    """The milestones of one domain, in the order a task usually reaches them."""

    domain: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    milestones: tuple[Milestone, ...]

    @model_validator(mode="after")
    def _unique(self) -> "MilestoneTable":
        names = [m.name for m in self.milestones]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"{self.domain}: duplicate milestone names {dupes}")
        return self

    def get(self, name: str) -> Milestone | None:
        return next((m for m in self.milestones if m.name == name), None)


# --------------------------------------------------------------------------------------------------------------
# The built-in tables (the same shape a user's milestones_file uses)

# Action kinds of Qwen3-VL computer_use and of browsergym, so the tables work with either action space.
_CLICK = r"(left_|double_|triple_|mouse_)?click|dblclick|mouse_dblclick|key|press|keyboard_press"
_TYPE = r"type|fill|keyboard_type|keyboard_insert_text"
_NONEMPTY = r' value="\s*[^"\s]'
# browsergym marks the focused node `, focused`; Playwright's aria snapshot marks it `[active]`.
_FOCUS = r".*(,\s*focused\b|\[(active|focused)\])"
_TEXT = r"(StaticText|text|alert|status|heading)"

# GoMail. From the real capture: the inbox has `StaticText 'Compose'` in the navigation (no button role) and
# no textbox but 'Search mail'; an opened email shows `StaticText 'Subject:'` and `'From'`, never a textbox.
# So "compose opened" looks for the compose form's fields, not for the word Compose.
_MAIL_TO = r'^(textbox|combobox|searchbox) "(To|To recipients|Recipients?)"'
_MAIL_SUBJECT = r'^textbox "Subject"'
_MAIL_SENT = rf'^{_TEXT} "(Your )?(message|email) (has been )?(sent|scheduled)( successfully)?[.!]?"'
_MAIL_GOAL = r"\b(compose|write|send|reply|inform|notify|schedule an e-?mail)\b|^\W*(go ?mail:\s*)?e-?mail\b"
_MAIL_SENT_STATE = [
    {"finish": [{"path": "differences.emails.added.*.sent", "equals": True}]},
    {"finish": [{"path": "differences.emails.added.*.scheduled", "equals": True}]},
    {"finish": [{"path": "initialfinaldiff.added.email.emails.*.sent", "equals": True}]},
]

# GoCalendar (a Google Calendar clone: "Add title" field in the event dialog, Save button, snackbar).
_CAL_TITLE = r'^textbox "(Add title|Add title and time|Add a title|Title|Event title)"'
_CAL_DIALOG = r'^dialog "[^"]*\b(event|reminder|task)\b'
_CAL_DATE = (r'^(textbox|combobox|button|spinbutton) "(Start date|End date|Date|Event date|Start time|End time'
             r'|Starts?|Ends?|From|Until)\b')
_CAL_GOAL = r"\b(create|add|make|remind|reminder|schedule|set up|book|new event)\b"
_CAL_ADDED_STATE = [
    {"finish": [{"path": "differences.events.added.*"}]},
    {"finish": [{"path": "eventsDiff.added.*"}]},
]

# Omnizon (an Amazon clone; v2 finish state: initialfinaldiff.added.order.orders, router pathname
# "/confirmation", filter.searchQuery; v1: orderDetailsDiff.added."0".order).
_SHOP_GOAL = r"\b(buy|order|purchase|checkout|check out|cart)\b"

# Zilloft (a Zillow clone; search route /homes?q=...&homeTypes=...; finish: requestTours, contactAgents).
_HOME_FILTER_PARAMS = (r"homeTypes|home_type|minPrice|maxPrice|priceMin|priceMax|price|beds|baths|minBeds|maxBeds"
                       r"|minBaths|bedrooms|bathrooms|sqft|minSqft|maxSqft|squareFeet")

DEFAULT_MILESTONE_TABLES: dict[str, dict[str, Any]] = {
    "gomail": {
        "compose_opened": {
            "weight": 0.2, "goal": _MAIL_GOAL,
            "description": "the compose form is on screen (To/Subject fields, a New Message dialog or Send)",
            "any_of": [
                {"ax": [_MAIL_TO, _MAIL_SUBJECT]},
                {"ax": [r'^dialog "(New Message|New Email|Compose|Compose Email)"']},
                {"ax": [r'^button "Send"']},
            ],
        },
        "recipient_filled": {
            "weight": 0.2, "goal": _MAIL_GOAL,
            "description": "the To field holds a value, or an address was typed into the focused To field",
            "any_of": [
                {"ax": [_MAIL_TO + _NONEMPTY]},
                {"action": {"kind": _TYPE, "fields": {"text": r"\S+@\S+"}},
                 "ax_before": [_MAIL_TO + _FOCUS], "ax": [_MAIL_SUBJECT]},
                {"ax": [_MAIL_SUBJECT], "ax_changed": [r'^(button|listitem|option|gridcell|row) "[^"]*\S@\S[^"]*"']},
            ],
        },
        "subject_filled": {
            "weight": 0.2, "goal": _MAIL_GOAL,
            "description": "the Subject field holds a value, or text was typed into the focused Subject field",
            "any_of": [
                {"ax": [_MAIL_SUBJECT + _NONEMPTY]},
                {"action": {"kind": _TYPE, "fields": {"text": r"\S"}},
                 "ax_before": [_MAIL_SUBJECT + _FOCUS]},
            ],
        },
        "send_clicked": {
            "weight": 0.3, "goal": _MAIL_GOAL,
            "description": "a click/key closed the compose form and the 'Message sent' snackbar appeared",
            "any_of": [
                {"action": {"kind": _CLICK}, "ax_before": [_MAIL_SUBJECT], "ax_absent": [_MAIL_SUBJECT],
                 "ax": [_MAIL_SENT]},
                *_MAIL_SENT_STATE,
            ],
        },
        "sent_confirmation": {
            "weight": 0.5, "goal": _MAIL_GOAL,
            "description": "the 'Message sent' snackbar, or a sent email in the /finish state",
            "any_of": [{"ax": [_MAIL_SENT]}, *_MAIL_SENT_STATE],
        },
    },
    "gocalendar": {
        "create_clicked": {
            "weight": 0.2, "goal": _CAL_GOAL,
            "description": "the event editor is open (its title field or an event dialog)",
            "any_of": [{"ax": [_CAL_TITLE]}, {"ax": [_CAL_DIALOG]}],
        },
        "title_entered": {
            "weight": 0.2, "goal": _CAL_GOAL,
            "description": "the event title field holds a value",
            "any_of": [
                {"ax": [_CAL_TITLE + _NONEMPTY]},
                {"action": {"kind": _TYPE, "fields": {"text": r"\S"}}, "ax_before": [_CAL_TITLE + _FOCUS]},
                {"finish": [{"path": "differences.events.added.*.title"}]},
                {"finish": [{"path": "eventsDiff.added.*.title"}]},
            ],
        },
        "date_set": {
            "weight": 0.2, "goal": _CAL_GOAL,
            "description": "a date/time field of the open event editor changed",
            "any_of": [
                {"ax_before": [_CAL_TITLE], "ax": [_CAL_TITLE], "ax_changed": [_CAL_DATE]},
                {"finish": [{"path": "differences.events.added.*.start"}]},
                {"finish": [{"path": "eventsDiff.added.*.start"}]},
            ],
        },
        "save_clicked": {
            "weight": 0.3, "goal": _CAL_GOAL,
            "description": "a click/key closed an editor that had a title and a Save button",
            "any_of": [
                {"action": {"kind": _CLICK}, "ax_before": [_CAL_TITLE + _NONEMPTY, r'^button "Save"'],
                 "ax_absent": [_CAL_TITLE]},
                *_CAL_ADDED_STATE,
            ],
        },
        "created_confirmation": {
            "weight": 0.5, "goal": _CAL_GOAL,
            "description": "an 'Event created/saved' snackbar, or an added event in the /finish state",
            "any_of": [
                {"ax": [rf'^{_TEXT} "(Event|Reminder|Task) (created|saved|added|scheduled)\b']},
                *_CAL_ADDED_STATE,
                {"finish": [{"path": "initialfinaldiff.added.calendar.myTasks.*"}]},
            ],
        },
    },
    "omnizon": {
        "search_results": {
            "weight": 0.2,
            "description": "a search results page (search URL or 'results for' heading)",
            "any_of": [
                {"url": r"/search\b|[?&](q|query|k|keyword|keywords|search|searchQuery|term)=[^&#]"},
                {"ax": [rf'^{_TEXT} "[^"]*\bresults? for\b']},
                {"finish": [{"path": "initialfinaldiff.updated.filter.searchQuery"}]},
            ],
        },
        "product_page": {
            "weight": 0.2,
            "description": "a product detail page (product URL, or both Add to Cart and Buy Now)",
            "any_of": [
                {"url": r"/(product|products|dp|item|items)/[^/?#]+"},
                {"ax": [r'^button "Add to (Cart|Basket)"', r'^button "Buy Now"']},
            ],
        },
        "add_to_cart": {
            "weight": 0.3, "goal": _SHOP_GOAL,
            "description": "an 'Added to cart' message, or a click changed the cart count",
            "any_of": [
                {"ax": [rf'^{_TEXT} "(Added to (your )?(cart|basket)|Item added to (your )?(cart|basket))\b']},
                {"action": {"kind": _CLICK}, "ax_changed": [r'^(link|button) "[^"]*\b(cart|basket)\b[^"]*\d']},
                {"finish": [{"path": "cartDetailsDiff.added.*"}]},
            ],
        },
        "cart_page": {
            "weight": 0.2, "goal": _SHOP_GOAL,
            "description": "the cart page",
            "any_of": [
                {"url": r"/cart\b"},
                {"ax": [r'^heading "(Shopping Cart|Your Cart|Cart|Your Shopping Cart)"']},
            ],
        },
        "checkout": {
            "weight": 0.5, "goal": _SHOP_GOAL,
            "description": "the checkout or confirmation page, or an order in the /finish state",
            "any_of": [
                {"url": r"/(checkout|confirmation)\b"},
                {"ax": [r'^button "Place (your )?order"']},
                {"finish": [{"path": "initialfinaldiff.added.order.orders.*"}]},
                {"finish": [{"path": "orderDetailsDiff.added.*"}]},
                {"finish": [{"path": "initialfinaldiff.updated.router.location.pathname",
                             "matches": r"/(checkout|confirmation)$"}]},
            ],
        },
    },
    "zilloft": {
        "search": {
            "weight": 0.2,
            "description": "a location search ran (q= in the URL, or a results heading/count)",
            "any_of": [
                {"url": r"[?&](q|query|search|searchQueryState|location)=[^&#]"},
                {"ax": [rf'^{_TEXT} "[^"]*\b(homes|real estate) for (sale|rent)\b']},
                {"ax": [rf'^{_TEXT} "[\d,]+ (results|homes|listings)\b']},
            ],
        },
        "filters_applied": {
            "weight": 0.3,
            "description": "a price/beds/baths/type/size filter is in the URL",
            "any_of": [{"url": rf"[?&]({_HOME_FILTER_PARAMS})=[^&#]"}],
        },
        "listing_viewed": {
            "weight": 0.4,
            "description": "a listing's detail page (detail URL, or Request a tour / Contact agent), or a tour or "
                           "agent request in the /finish state",
            "any_of": [
                {"url": r"/(homedetails|homes?|property|properties|listing|listings)/[^/?#]+"},
                {"ax": [r'^button "(Request (a )?tour|Contact (an )?agent)"']},
                {"finish": [{"path": "differences.requestTours.added.*"}]},
                {"finish": [{"path": "differences.contactAgents.added.*"}]},
                {"finish": [{"path": "initialfinaldiff.added.tourRequests.*"}]},
            ],
        },
    },
}


def _table_from_data(domain: str, data: Mapping[str, Any]) -> MilestoneTable:
    return MilestoneTable(
        domain=domain,
        milestones=tuple(Milestone(name=name, **spec) for name, spec in data.items()),
    )


def default_tables() -> dict[str, MilestoneTable]:
    """The built-in tables as validated models."""
    return {d: _table_from_data(d, data) for d, data in DEFAULT_MILESTONE_TABLES.items()}


# --------------------------------------------------------------------------------------------------------------
# Overrides: file and settings

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


# --------------------------------------------------------------------------------------------------------------
# Reading task_info


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


_TASK_ID = re.compile(r"^(?:v\d+\.)?(?P<site>[a-z][a-z-]*?)-\d+$")


def domain_of(task_info: Any) -> str | None:
    """The site of the task: ``site``/``domain``/``website.id``, a nested ``task`` (a Task), or the task id."""
    if task_info is None:
        return None
    for key in ("site", "domain"):
        v = _get(task_info, key)
        if isinstance(v, str) and v.strip():
            return v.strip().lower()
    web = _get(task_info, "website")
    if isinstance(web, Mapping) and isinstance(web.get("id"), str):
        return web["id"].strip().lower()
    task = _get(task_info, "task")
    if task is not None and task is not task_info:
        found = domain_of(task)
        if found:
            return found
    for key in ("task_id", "id"):
        v = _get(task_info, key)
        if isinstance(v, str):
            m = _TASK_ID.match(v.strip().lower())
            if m:
                return m["site"]
    return None


def goal_of(task_info: Any) -> str | None:
    """The task goal, where task_info (or its nested ``task``) has one; None when unknown."""
    if task_info is None:
        return None
    v = _get(task_info, "goal")
    if isinstance(v, str):
        return v
    task = _get(task_info, "task")
    if task is not None and task is not task_info:
        return goal_of(task)
    return None


def finish_state_of(task_info: Any) -> Mapping[str, Any] | None:
    """The ``/finish`` JSON: ``finish_state``, or agisdk's ``env_state`` (``info["task_info"]``)."""
    if task_info is None:
        return None
    for key in ("finish_state", "env_state", "finish"):
        v = _get(task_info, key)
        if isinstance(v, Mapping):
            return v
    return None


# --------------------------------------------------------------------------------------------------------------
# Detection (pure)


def resolve_path(data: Any, path: str) -> list[Any]:
    """Every value at a dotted path; ``*`` fans out, a number indexes a list or names a dict key."""
    current: list[Any] = [data]
    for part in path.split("."):
        nxt: list[Any] = []
        for node in current:
            if part == "*":
                if isinstance(node, Mapping):
                    nxt.extend(node.values())
                elif isinstance(node, list):
                    nxt.extend(node)
            elif isinstance(node, Mapping):
                if part in node:
                    nxt.append(node[part])
            elif isinstance(node, list) and re.fullmatch(r"-?\d+", part):
                i = int(part)
                if -len(node) <= i < len(node):
                    nxt.append(node[i])
        current = nxt
        if not current:
            break
    return current


def _present(v: Any) -> bool:
    return v is not None and v is not False and v != "" and v != [] and v != {}


def _finish_holds(check: FinishCheck, finish: Mapping[str, Any]) -> bool:
    values = resolve_path(finish, check.path)
    if "equals" in check.model_fields_set:
        return any(v == check.equals for v in values)
    if check.matches is not None:
        rx = _rx(check.matches)
        return any(isinstance(v, str) and rx.search(v) for v in values)
    return any(_present(v) for v in values)


def _action_matches(pattern: ActionPattern, action: Any) -> bool:
    d = action_dict(action)
    if d is None:
        return False
    flat = _flat_action(d)
    if pattern.kind is not None:
        kind = next((flat[k] for k in _KIND_KEYS if isinstance(flat.get(k), str)), None)
        if kind is None or _rx(pattern.kind).fullmatch(kind) is None:
            return False
    for key, rx in pattern.fields.items():
        if key not in flat:
            return False
        v = flat[key]
        text = v if isinstance(v, str) else json.dumps(v, default=str)
        if _rx(rx).search(text) is None:
            return False
    return True


def _matching_heads(pattern: str, text: str) -> set[str]:
    heads: set[str] = set()
    for m in _rx(pattern).finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.start())
        line = text[start : end if end >= 0 else len(text)]
        hm = LINE_HEAD.match(line)
        heads.add(hm.group() if hm else line)
    return heads


def _axtree_of(obs: Any) -> str:
    v = _get(obs, "axtree") if obs is not None else None
    return v if isinstance(v, str) else ""


def _ax_of(obs: Any) -> str:
    return canonical_axtree(_axtree_of(obs))


def _url_of(obs: Any) -> str:
    v = _get(obs, "url") if obs is not None else None
    return v if isinstance(v, str) else ""


def _condition_holds(c: Condition, before: str | None, after: str, url: str, action: Any,
                     finish: Mapping[str, Any] | None) -> bool:
    if c.needs_transition and before is None:
        return False
    if c.url is not None and _rx(c.url).search(url) is None:
        return False
    if any(_rx(p).search(after) is None for p in c.ax):
        return False
    if any(_rx(p).search(after) is not None for p in c.ax_absent):
        return False
    if before is not None and any(_rx(p).search(before) is None for p in c.ax_before):
        return False
    for p in c.ax_changed:
        now = _matching_heads(p, after)
        if not now or now == _matching_heads(p, before or ""):
            return False
    if c.action is not None and not _action_matches(c.action, action):
        return False
    if c.finish and (finish is None or not all(_finish_holds(f, finish) for f in c.finish)):
        return False
    return True


def detect(milestone: Milestone, obs: Any, action: Any, next_obs: Any, task_info: Any) -> bool:
    """Whether the step ``obs --action--> next_obs`` reaches ``milestone`` (any of its conditions holds).

    ``obs`` may be None (no previous observation): then only conditions about a single state can hold.
    """
    before = _ax_of(obs) if obs is not None else None
    after, url = _ax_of(next_obs), _url_of(next_obs)
    finish = finish_state_of(task_info)
    return any(_condition_holds(c, before, after, url, action, finish) for c in milestone.any_of)


def presatisfied(table: MilestoneTable, obs: Any) -> set[str]:
    """Milestones the episode's first observation already shows; they are never paid, since the agent did not
    reach them (a site that opens with a search URL must not pay "search" for nothing)."""
    return {m.name for m in table.milestones if detect(m, None, None, obs, None)}


def milestone_applies(milestone: Milestone, goal: str | None) -> bool:
    """A milestone with a ``goal`` regex applies only to matching goals; with an unknown goal it applies."""
    return milestone.goal is None or goal is None or _rx(milestone.goal).search(goal) is not None


# --------------------------------------------------------------------------------------------------------------
# Arithmetic (pure)


def valid_action_term(valid: bool, bonus: float, penalty: float) -> float:
    return bonus if valid else -penalty


def novelty_term(next_key: str, seen: Iterable[str], weight: float, valid: bool = True) -> float:
    """Pays only for a state the agent's own (parsed) action led to, so a page that finishes loading by
    itself after an unparsable reply earns nothing."""
    return weight if valid and next_key not in seen else 0.0


def is_loop(key: str, next_key: str, fingerprint: str | None, taken: Iterable[tuple[str, str]]) -> bool:
    """The same action again in the same state, and it changed nothing: the agent is repeating itself.

    The first no-op is not punished (a click can miss once); its repetition is.
    """
    return fingerprint is not None and key == next_key and (key, fingerprint) in taken


def loop_term(looped: bool, penalty: float) -> float:
    return -penalty if looped else 0.0


def sum_components(components: Mapping[str, float]) -> float:
    """The reward is exactly the sum of its components, in insertion order, so the store can re-add them."""
    total = 0.0
    for v in components.values():
        total += v
    return total


# --------------------------------------------------------------------------------------------------------------
# The calculator


class DenseRewardCalculator:
    """Per-episode dense reward; ``reset()`` at the start of every episode, ``compute_reward`` after every step.

    After each call ``last_components`` holds the terms of the returned reward (they sum to it),
    ``last_milestones`` the milestones paid on that step, and ``reached`` every milestone paid this episode.
    """

    GENERIC_COMPONENTS = ("valid_action", "novelty", "loop", "success")

    def __init__(self, settings: RewardSettings | Settings | None = None, *,
                 tables: Mapping[str, MilestoneTable] | None = None) -> None:
        if isinstance(settings, Settings):
            settings = settings.reward
        self.settings: RewardSettings = settings if settings is not None else RewardSettings()
        self.tables: dict[str, MilestoneTable] = (
            dict(tables) if tables is not None else build_tables(self.settings)
        )
        self.last_components: dict[str, float] = {}
        self.last_milestones: list[str] = []
        self.reset()

    def reset(self) -> None:
        """Forgets the episode: seen states, taken actions, paid milestones, the success bonus."""
        self._seen: set[str] = set()
        self._taken: set[tuple[str, str]] = set()
        self._paid: list[str] = []
        self._presatisfied: set[str] = set()
        self._primed = False
        self._success_paid = False
        self.episode_reward = 0.0
        self.last_components = {}
        self.last_milestones = []

    @property
    def reached(self) -> tuple[str, ...]:
        """Milestones paid this episode, in the order they were reached."""
        return tuple(self._paid)

    def compute_reward(self, obs: Any, action: Any, next_obs: Any, task_info: Any,
                       done: bool, success: bool) -> float:
        """The dense reward of the step ``obs --action--> next_obs``; see the module docstring for the terms."""
        s = self.settings
        key = state_key(_url_of(obs), _axtree_of(obs))
        next_key = state_key(_url_of(next_obs), _axtree_of(next_obs))
        table = self.tables.get(domain_of(task_info) or "") if s.milestones else None
        if not self._primed:
            self._primed = True
            if obs is not None:
                self._seen.add(key)
                if table is not None:
                    self._presatisfied = presatisfied(table, obs)

        valid = is_valid_action(action)
        fingerprint = action_fingerprint(action)
        looped = is_loop(key, next_key, fingerprint, self._taken)
        comps: dict[str, float] = {
            "valid_action": valid_action_term(valid, s.valid_action, s.invalid_action_penalty),
            "novelty": novelty_term(next_key, self._seen, s.novelty, valid),
            "loop": loop_term(looped, s.loop_penalty),
            "success": 0.0,
        }
        self._seen.add(next_key)
        if fingerprint is not None:
            self._taken.add((key, fingerprint))

        fired: list[str] = []
        if table is not None:
            goal = goal_of(task_info)
            for m in table.milestones:
                if m.name in self._paid or m.name in self._presatisfied or not milestone_applies(m, goal):
                    continue
                if detect(m, obs, action, next_obs, task_info):
                    fired.append(m.name)
                    comps[f"milestone:{m.name}"] = m.weight
        self._paid.extend(fired)

        if done and success and not self._success_paid:
            self._success_paid = True
            comps["success"] = s.success_bonus

        reward = sum_components(comps)
        self.last_components = comps
        self.last_milestones = fired
        self.episode_reward += reward
        return reward

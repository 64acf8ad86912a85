"""DenseRewardCalculator: generic shaping, per-domain milestones, overrides.

The GoMail loading page, inbox and opened email are real captures (tests/data/progress/README.md). Every
other page below (the compose dialog, snackbars, GoCalendar, Omnizon, Zilloft) is a synthetic snippet written
in the same browsergym rendering style, because only those GoMail pages were captured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halo_cli.core.actions import ActionParseError, Answer, Key, LeftClick, Type, parse_action
from halo_cli.core.config import RewardSettings, load_settings
from halo_cli.core.env.axtree import canonical_axtree, state_key
from halo_cli.core.env.episode import Observation
from halo_cli.core.env.tasks import Task
from halo_cli.core.errors import ConfigError
from halo_cli.core.rl.progress import (
    DenseRewardCalculator,
    Milestone,
    ObservationLike,
    TaskInfo,
    action_fingerprint,
    build_tables,
    default_table_data,
    default_tables,
    detect,
    is_loop,
    milestone_applies,
    novelty_term,
    resolve_path,
    sum_components,
)

DATA = Path(__file__).parent / "data" / "progress"
LOADING = (DATA / "v1.gomail-2_step00.axtree.txt").read_text(encoding="utf-8")
INBOX = (DATA / "v1.gomail-2_step02.axtree.txt").read_text(encoding="utf-8")
OPEN_EMAIL = (DATA / "v1.gomail-2_step03.axtree.txt").read_text(encoding="utf-8")
ZILLOFT_FINISH = json.loads((DATA / "zilloft_finish_v1.json").read_text(encoding="utf-8"))

GOMAIL_URL = "https://evals-gomail.vercel.app/"


@dataclass(frozen=True)
class Obs:
    """Stands in for BrowserEnv's Observation: the reward reads only url, title and axtree."""

    url: str
    axtree: str
    title: str = ""
    screenshot: bytes = field(default=b"", repr=False)


CLICK = LeftClick(x=500, y=300)
CLICK2 = LeftClick(x=120, y=560)
ENTER = Key(keys=("enter",))


def typed(text: str) -> Type:
    return Type(text=text)


# ---- GoMail: the real inbox plus a synthetic compose dialog appended (where the app mounts it) ----------------


def compose(to: str = "", subject: str = "", focus: str = "To", chip: str = "") -> str:
    def f(name: str) -> str:
        return ", focused" if name == focus else ""

    to_v = f" value={to!r}" if to else ""
    sub_v = f" value={subject!r}" if subject else ""
    chip_line = f"\n\t\t[1109] button {chip!r}, clickable, visible" if chip else ""
    return INBOX + (
        "\n\t[1100] dialog 'New Message', visible, modal=False"
        "\n\t\t[1102] heading 'New Message', visible"
        "\n\t\t\tInlineTextBox 'New Message'"
        "\n\t\t[1104] button 'Minimize', clickable, visible"
        "\n\t\t[1106] button 'Save & close', clickable, visible"
        f"{chip_line}"
        f"\n\t\t[1110] textbox 'To'{to_v}, clickable, visible{f('To')}"
        f"\n\t\t[1114] textbox 'Subject'{sub_v}, clickable, visible{f('Subject')}"
        f"\n\t\t[1118] textbox 'Message Body', clickable, visible, multiline{f('Body')}"
        "\n\t\t[1122] button 'Send', clickable, visible"
    )


SNACK_SENT = (
    "\n\t[1300] alert '', visible, live='polite', atomic, relevant='additions text'"
    "\n\t\tStaticText 'Message sent'"
    "\n\t\t\tInlineTextBox 'Message sent'"
    "\n\t\t[1302] button 'Undo', clickable, visible"
    "\n\t\t[1304] button 'View message', clickable, visible"
)
INBOX_SENT = INBOX + SNACK_SENT
SNACK_DRAFT = "\n\t[1300] alert '', visible, live='polite'\n\t\tStaticText 'Draft saved'"
INBOX_DRAFT = INBOX + SNACK_DRAFT

GOMAIL_SENT_STATE = {"differences": {"emails": {
    "added": [{"id": "55", "to": ["jonathan.smith@example.com"], "subject": "Meeting Notes",
               "content": "<p>Please find the meeting notes attached.</p>", "sent": True}],
    "updated": [], "deleted": []}}}
GOMAIL_DRAFT_STATE = {"differences": {"emails": {
    "added": [{"id": "55", "to": [], "subject": "", "content": "", "sent": False}], "updated": [], "deleted": []}}}


def snack(text: str, page: str = INBOX) -> str:
    """A page with a GoMail snackbar (the bulk actions' "4 conversations moved to Trash." and the like)."""
    return page + f"\n\t[1300] alert '', visible, live='polite'\n\t\tStaticText {text!r}\n\t\t[1302] button 'Close', clickable"


# The real inbox with its first row's checkbox ticked (browsergym's checked='true'), and a reply box: the inline
# composer of an opened email, which has a recipient chip and a body but no Subject field.
INBOX_CHECKED = INBOX.replace("checkbox 'Select email from Support', clickable, checked='false'",
                              "checkbox 'Select email from Support', clickable, checked='true'", 1)
REPLY_BOX = OPEN_EMAIL + (
    "\n\t[1400] region 'Reply', visible"
    "\n\t\t[1402] listitem 'Jane Smith <jane.smith@example.com>', visible"
    "\n\t\t[1404] combobox 'To recipients', clickable, visible"
    "\n\t\t[1406] textbox 'Message Body', clickable, visible, focused"
    "\n\t\t[1408] button 'Send', clickable, visible"
)
GOMAIL_TRASH_STATE = {"differences": {"emails": {"added": [], "deleted": [], "updated": [{"id": "1", "trash": True}]}}}
GOMAIL_ARCHIVE_STATE = {"differences": {"emails": {"added": [], "deleted": [], "updated": [{"id": "46", "archived": True}]}}}
GOMAIL_SNOOZE_STATE = {"initialfinaldiff": {"added": {"email": {"emails": {"28": {"snoozeUntil": "2024-07-25T15:00:00.000Z"}}}}}}
GOMAIL_LABEL_STATE = {"initialfinaldiff": {"added": {"settings": {"customLabels": {"0": {"label": "Support Emails"}}}}}}
GOMAIL_READ_STATE = {"differences": {"emails": {"added": [], "deleted": [], "updated": [{"id": "1", "isRead": True}]}}}

# ---- GoCalendar (synthetic) ----------------------------------------------------------------------------------

CAL_URL = "https://evals-gocalendar.vercel.app/calendar"
CAL_WEEK = """RootWebArea 'GoCalendar - Week of July 14, 2024', focused, url='https://evals-gocalendar.vercel.app/calendar'
\t[20] banner '', visible
\t\t[22] button 'Main menu', clickable, visible
\t\t[25] heading 'GoCalendar', visible
\t\t[30] button 'Today', clickable, visible
\t\t[32] button 'Previous week', clickable, visible
\t\t[34] button 'Next week', clickable, visible
\t\t[36] heading 'July 2024', visible
\t[40] complementary '', visible
\t\t[42] button 'Create', clickable, visible
\t\t\tStaticText 'Create'
\t[60] main '', visible
\t\t[62] grid 'Week of July 14, 2024', visible
\t\t\t[70] button 'Team Check-In, 10:00 AM to 10:30 AM, July 18, 2024', clickable, visible"""


def cal_dialog(title: str = "", date: str = "Thursday, July 18", focus: str = "title") -> str:
    title_v = f" value={title!r}" if title else ""
    fo = ", focused" if focus == "title" else ""
    return CAL_WEEK + (
        "\n\t[300] dialog 'Create event', visible, modal=True"
        f"\n\t\t[302] textbox 'Add title'{title_v}, clickable, visible{fo}"
        "\n\t\t[306] button 'Event', clickable, visible"
        "\n\t\t[308] button 'Task', clickable, visible"
        f"\n\t\t[310] combobox 'Start date' value={date!r}, clickable, visible, hasPopup='dialog'"
        "\n\t\t[312] combobox 'Start time' value='9:00am', clickable, visible"
        "\n\t\t[314] combobox 'End time' value='10:00am', clickable, visible"
        "\n\t\t[320] textbox 'Add location', clickable, visible"
        "\n\t\t[330] button 'Save', clickable, visible"
    )


CAL_SAVED = CAL_WEEK + (
    "\n\t\t\t[72] button 'Team Meeting, 2:00 PM to 2:30 PM, July 19, 2024', clickable, visible"
    "\n\t[400] alert '', visible, live='polite'\n\t\tStaticText 'Event saved'\n\t\t[402] button 'Undo', clickable"
)
CAL_EVENT_STATE = {"differences": {"events": {"added": {"4f1c": {
    "id": "4f1c", "title": "Team Meeting", "start": "2024-07-19T21:00:00.000Z", "end": "2024-07-19T21:30:00.000Z"}},
    "deleted": {}, "updated": {}}}}
CAL_EVENT_STATE_V1 = {"eventsDiff": {"added": {"0": {"title": "Team Meeting", "start": "2024-07-19T21:00:00.000Z"}},
                                     "deleted": {}, "updated": {}}}
CAL_EMPTY_STATE = {"differences": {"events": {"added": {}, "deleted": {}, "updated": {}}}}
# An event's details (the local GoCalendar names the dialog after the event), and the week after deleting it.
CAL_DETAILS = CAL_WEEK + (
    "\n\t[500] dialog 'Project Sync', visible, modal=True"
    "\n\t\t[502] button 'Edit event', clickable, visible"
    "\n\t\t[504] button 'Delete event', clickable, visible"
    "\n\t\t[506] button 'Close', clickable, visible"
    "\n\t\t[508] heading 'Project Sync', visible"
)
CAL_DELETED = CAL_WEEK + "\n\t[600] status '', visible, live='polite'\n\t\tStaticText 'Event deleted'"
CAL_DELETED_STATE = {"differences": {"events": {"added": {}, "updated": {}, "deleted": {"9a": {
    "id": "9a", "title": "Project Sync", "start": "2024-07-17T16:00:00.000Z", "end": "2024-07-17T17:00:00.000Z"}}}}}
CAL_DELETED_TASK_STATE = {"initialfinaldiff": {"added": {"calendar": {"deletedEvents": {"0": {
    "id": "9a", "title": "Project Sync", "start": "2024-07-17T16:00:00.000Z"}}}}}}

# ---- Omnizon (synthetic) -------------------------------------------------------------------------------------

SHOP = "https://omnizon.example"
SHOP_HEADER = """RootWebArea 'Omnizon', focused, url='https://omnizon.example/'
\t[10] banner '', visible
\t\t[12] link 'Omnizon', clickable, visible
\t\t[14] searchbox 'Search Omnizon', clickable, visible
\t\t[16] button 'Go', clickable, visible
\t\t[18] link 'Cart, {n} items', clickable, visible"""


def shop(body: str, cart: int = 0) -> str:
    return SHOP_HEADER.format(n=cart) + body


SHOP_HOME = shop("\n\t[40] main '', visible\n\t\t[42] heading 'Shop by category', visible\n\t\t[44] link 'Headphones', clickable")
SHOP_RESULTS = shop(
    "\n\t[40] main '', visible"
    "\n\t\t[42] heading 'Results for \"headphones\"', visible"
    "\n\t\t[50] link 'Sony WH-1000XM5 Wireless Headphones', clickable, visible"
    "\n\t\t[52] button 'Add to Cart', clickable, visible"
)


def shop_product(cart: int = 0, added: bool = False) -> str:
    snack = "\n\t[90] status '', visible\n\t\tStaticText 'Added to Cart'" if added else ""
    return shop(
        "\n\t[40] main '', visible"
        "\n\t\t[60] heading 'PlayStation DualSense Wireless Controller', visible"
        "\n\t\t[62] StaticText '$69.99'"
        "\n\t\t[64] combobox 'Quantity' value='1', clickable, visible"
        "\n\t\t[66] button 'Add to Cart', clickable, visible"
        "\n\t\t[68] button 'Buy Now', clickable, visible" + snack,
        cart,
    )


SHOP_CART = shop("\n\t[40] main '', visible\n\t\t[70] heading 'Shopping Cart', visible\n\t\t[72] button 'Proceed to checkout', clickable", 1)
SHOP_CHECKOUT = shop("\n\t[40] main '', visible\n\t\t[80] heading 'Checkout', visible\n\t\t[82] button 'Place your order', clickable", 1)
SHOP_ORDER_STATE = {"initialfinaldiff": {"added": {"order": {"orders": {"0": {"items": [{"id": "16", "price": 69.99, "quantity": 2}]}}}},
                                         "updated": {"router": {"location": {"pathname": "/confirmation"}}}}}

# ---- Zilloft (synthetic pages, real finish dump) ---------------------------------------------------------------

HOMES = "https://evals-zilloft.vercel.app"
Z_HOME = """RootWebArea 'Zilloft: Real Estate, Apartments, Mortgages & Home Values', focused, url='https://evals-zilloft.vercel.app/'
\t[20] banner '', visible
\t\t[22] link 'Buy', clickable, visible
\t\t[24] link 'Rent', clickable, visible
\t[30] main '', visible
\t\t[32] heading 'Agents. Tours. Loans. Homes.', visible
\t\t[34] combobox 'Enter an address, neighborhood, city, or ZIP code', clickable, visible"""
Z_RESULTS = """RootWebArea 'San Francisco CA Real Estate - Zilloft', focused, url='https://evals-zilloft.vercel.app/homes?q=San+Francisco%2C+CA'
\t[30] main '', visible
\t\t[40] heading 'San Francisco CA Real Estate & Homes For Sale', visible
\t\t[42] StaticText '312 results'
\t\t[44] button 'Price', clickable, visible, hasPopup='dialog'
\t\t[46] button 'Beds & Baths', clickable, visible, hasPopup='dialog'
\t\t[50] link '1610 E 61st St, Long Beach, CA 90805', clickable, visible"""
Z_LISTING = """RootWebArea '1610 E 61st St, Long Beach, CA 90805 - Zilloft', focused, url='https://evals-zilloft.vercel.app/homedetails/1610-E-61st-St/12'
\t[30] dialog '1610 E 61st St, Long Beach, CA 90805', visible, modal=True
\t\t[32] heading '$585,000', visible
\t\t[34] button 'Request a tour', clickable, visible
\t\t[36] button 'Contact agent', clickable, visible"""
Z_EMPTY_STATE = {"differences": {"requestTours": {"added": {}, "deleted": {}, "updated": {}},
                                 "contactAgents": {"added": {}, "deleted": {}, "updated": {}}}}

TABLES = default_tables()


def ms(domain: str, name: str) -> Milestone:
    m = TABLES[domain].get(name)
    assert m is not None
    return m


# ---- every detector fires and stays silent ---------------------------------------------------------------------

# (domain, milestone, before (url, axtree) | None, action, after (url, axtree), finish state | None, expected)
C = tuple[str, str, tuple[str, str] | None, Any, tuple[str, str], dict | None, bool]
CASES: list[C] = [
    # GoMail
    ("gomail", "compose_opened", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, compose()), None, True),
    ("gomail", "compose_opened", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, INBOX + "\n\t[9] button 'Send', clickable"), None, True),
    ("gomail", "compose_opened", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, OPEN_EMAIL), None, False),
    ("gomail", "recipient_filled", (GOMAIL_URL, compose()), typed("jonathan.smith@example.com"),
     (GOMAIL_URL, compose(to="jonathan.smith@example.com")), None, True),
    ("gomail", "recipient_filled", (GOMAIL_URL, compose(focus="To")), typed("jonathan.smith@example.com"),
     (GOMAIL_URL, compose()), None, True),  # the field renders no value, but the address went into the focused To
    ("gomail", "recipient_filled", (GOMAIL_URL, compose()), ENTER,
     (GOMAIL_URL, compose(chip="jonathan.smith@example.com")), None, True),  # recipient chip appeared
    ("gomail", "recipient_filled", (GOMAIL_URL, compose()), typed("hello"), (GOMAIL_URL, compose()), None, False),
    ("gomail", "recipient_filled", (GOMAIL_URL, compose(focus="Subject")), typed("jonathan.smith@example.com"),
     (GOMAIL_URL, compose(focus="Subject")), None, False),  # typed into Subject, not To
    ("gomail", "subject_filled", (GOMAIL_URL, compose(focus="Subject")), typed("Meeting Notes"),
     (GOMAIL_URL, compose(subject="Meeting Notes", focus="Subject")), None, True),
    ("gomail", "subject_filled", (GOMAIL_URL, compose(focus="Subject")), typed("Meeting Notes"),
     (GOMAIL_URL, compose(focus="Subject")), None, True),
    ("gomail", "subject_filled", (GOMAIL_URL, compose(focus="To")), typed("x@y.com"),
     (GOMAIL_URL, compose(to="x@y.com")), None, False),
    ("gomail", "send_clicked", (GOMAIL_URL, compose(to="a@b.com", subject="Hi")), CLICK, (GOMAIL_URL, INBOX_SENT), None, True),
    ("gomail", "send_clicked", (GOMAIL_URL, compose()), ENTER, (GOMAIL_URL, INBOX_SENT), None, True),
    ("gomail", "send_clicked", None, None, (GOMAIL_URL, INBOX), GOMAIL_SENT_STATE, True),
    ("gomail", "send_clicked", (GOMAIL_URL, compose(subject="Hi")), CLICK, (GOMAIL_URL, INBOX_DRAFT), None, False),
    ("gomail", "send_clicked", (GOMAIL_URL, compose(subject="Hi")), CLICK,
     (GOMAIL_URL, compose(subject="Hi") + SNACK_SENT), None, False),  # compose still open
    ("gomail", "send_clicked", None, None, (GOMAIL_URL, INBOX), GOMAIL_DRAFT_STATE, False),
    ("gomail", "sent_confirmation", (GOMAIL_URL, compose()), CLICK, (GOMAIL_URL, INBOX_SENT), None, True),
    ("gomail", "sent_confirmation", None, None, (GOMAIL_URL, INBOX), GOMAIL_SENT_STATE, True),
    ("gomail", "sent_confirmation", (GOMAIL_URL, compose()), CLICK, (GOMAIL_URL, INBOX_DRAFT), None, False),
    ("gomail", "sent_confirmation", None, None, (GOMAIL_URL, INBOX), GOMAIL_DRAFT_STATE, False),
    ("gomail", "recipient_filled", (GOMAIL_URL, OPEN_EMAIL), CLICK, (GOMAIL_URL, REPLY_BOX), None, True),  # reply chip
    ("gomail", "send_clicked", (GOMAIL_URL, REPLY_BOX), CLICK, (GOMAIL_URL, snack("Message sent", OPEN_EMAIL)), None, True),
    ("gomail", "send_clicked", (GOMAIL_URL, REPLY_BOX), CLICK, (GOMAIL_URL, snack("Message sent", REPLY_BOX)), None, False),
    ("gomail", "rows_selected", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, INBOX_CHECKED), None, True),
    ("gomail", "rows_selected", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, INBOX), None, False),
    ("gomail", "rows_selected", None, None, (GOMAIL_URL, INBOX_CHECKED), None, False),  # ticked before the agent acted
    ("gomail", "rows_selected", (GOMAIL_URL, INBOX), typed("x"), (GOMAIL_URL, INBOX_CHECKED), None, False),
    ("gomail", "marked_read", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, snack("17 conversations marked as read.")), None, True),
    ("gomail", "marked_read", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, snack("Conversation marked as unread.")), None, False),
    ("gomail", "marked_read", None, None, (GOMAIL_URL, INBOX), GOMAIL_READ_STATE, False),  # opening an email reads it
    ("gomail", "moved_to_trash", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, snack("4 conversations moved to Trash.")), None, True),
    ("gomail", "moved_to_trash", (GOMAIL_URL, OPEN_EMAIL), CLICK, (GOMAIL_URL, snack("Conversation moved to Trash.")), None, True),
    ("gomail", "moved_to_trash", None, None, (GOMAIL_URL, INBOX), GOMAIL_TRASH_STATE, True),
    ("gomail", "moved_to_trash", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, snack("3 conversations archived.")), None, False),
    ("gomail", "moved_to_trash", None, None, (GOMAIL_URL, INBOX), GOMAIL_ARCHIVE_STATE, False),
    ("gomail", "archived", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, snack("3 conversations archived.")), None, True),
    ("gomail", "archived", None, None, (GOMAIL_URL, INBOX), GOMAIL_ARCHIVE_STATE, True),
    ("gomail", "archived", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, snack("Conversation moved to Trash.")), None, False),
    ("gomail", "snoozed", (GOMAIL_URL, INBOX), CLICK,
     (GOMAIL_URL, snack("3 conversations snoozed until Jul 25, 8:00 AM.")), None, True),
    ("gomail", "snoozed", None, None, (GOMAIL_URL, INBOX), GOMAIL_SNOOZE_STATE, True),
    ("gomail", "snoozed", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, snack("3 conversations archived.")), None, False),
    ("gomail", "label_dialog_opened", (GOMAIL_URL, INBOX), CLICK,
     (GOMAIL_URL, INBOX + "\n\t[1500] dialog 'New label', visible, modal=True"), None, True),
    ("gomail", "label_dialog_opened", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, compose()), None, False),
    ("gomail", "label_created", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, snack('Label "Support Emails" created.')), None, True),
    ("gomail", "label_created", None, None, (GOMAIL_URL, INBOX), GOMAIL_LABEL_STATE, True),
    ("gomail", "label_created", (GOMAIL_URL, INBOX), CLICK, (GOMAIL_URL, snack("3 conversations archived.")), None, False),
    # GoCalendar
    ("gocalendar", "create_clicked", (CAL_URL, CAL_WEEK), CLICK, (CAL_URL, cal_dialog()), None, True),
    ("gocalendar", "create_clicked", (CAL_URL, CAL_WEEK), CLICK, (CAL_URL, CAL_WEEK), None, False),
    ("gocalendar", "title_entered", (CAL_URL, cal_dialog()), typed("Team Meeting"),
     (CAL_URL, cal_dialog(title="Team Meeting")), None, True),
    ("gocalendar", "title_entered", (CAL_URL, cal_dialog(focus="")), CLICK, (CAL_URL, cal_dialog(focus="")), None, False),
    ("gocalendar", "title_entered", None, None, (CAL_URL, CAL_WEEK), CAL_EVENT_STATE_V1, True),
    ("gocalendar", "date_set", (CAL_URL, cal_dialog(title="T")), CLICK,
     (CAL_URL, cal_dialog(title="T", date="Friday, July 19")), None, True),
    ("gocalendar", "date_set", (CAL_URL, cal_dialog(title="T")), typed("T2"), (CAL_URL, cal_dialog(title="T2")), None, False),
    ("gocalendar", "date_set", (CAL_URL, CAL_WEEK), CLICK, (CAL_URL, cal_dialog()), None, False),  # dialog just opened
    ("gocalendar", "date_set", None, None, (CAL_URL, CAL_WEEK), CAL_EVENT_STATE, True),
    ("gocalendar", "save_clicked", (CAL_URL, cal_dialog(title="Team Meeting")), CLICK, (CAL_URL, CAL_SAVED), None, True),
    ("gocalendar", "save_clicked", (CAL_URL, cal_dialog()), CLICK, (CAL_URL, CAL_WEEK), None, False),  # empty: cancel
    ("gocalendar", "save_clicked", None, None, (CAL_URL, CAL_WEEK), CAL_EVENT_STATE, True),
    ("gocalendar", "created_confirmation", (CAL_URL, cal_dialog(title="T")), CLICK, (CAL_URL, CAL_SAVED), None, True),
    ("gocalendar", "created_confirmation", None, None, (CAL_URL, CAL_WEEK), CAL_EVENT_STATE, True),
    ("gocalendar", "created_confirmation", (CAL_URL, cal_dialog(title="T")), CLICK, (CAL_URL, CAL_WEEK), None, False),
    ("gocalendar", "created_confirmation", None, None, (CAL_URL, CAL_WEEK), CAL_EMPTY_STATE, False),
    ("gocalendar", "create_clicked", (CAL_URL, CAL_WEEK), CLICK, (CAL_URL, CAL_DETAILS), None, False),  # details, not the editor
    ("gocalendar", "event_opened", (CAL_URL, CAL_WEEK), CLICK, (CAL_URL, CAL_DETAILS), None, True),
    ("gocalendar", "event_opened", (CAL_URL, CAL_WEEK), CLICK, (CAL_URL, cal_dialog()), None, False),
    ("gocalendar", "delete_clicked", (CAL_URL, CAL_DETAILS), CLICK, (CAL_URL, CAL_DELETED), None, True),
    ("gocalendar", "delete_clicked", None, None, (CAL_URL, CAL_WEEK), CAL_DELETED_STATE, True),
    ("gocalendar", "delete_clicked", (CAL_URL, CAL_DETAILS), CLICK, (CAL_URL, CAL_WEEK), None, False),  # closed, no snackbar
    ("gocalendar", "delete_clicked", (CAL_URL, CAL_WEEK), CLICK, (CAL_URL, CAL_DELETED), None, False),  # no details before
    ("gocalendar", "deleted_confirmation", (CAL_URL, CAL_DETAILS), CLICK, (CAL_URL, CAL_DELETED), None, True),
    ("gocalendar", "deleted_confirmation", None, None, (CAL_URL, CAL_WEEK), CAL_DELETED_STATE, True),
    ("gocalendar", "deleted_confirmation", None, None, (CAL_URL, CAL_WEEK), CAL_DELETED_TASK_STATE, True),
    ("gocalendar", "deleted_confirmation", (CAL_URL, CAL_DETAILS), CLICK, (CAL_URL, CAL_WEEK), None, False),
    ("gocalendar", "deleted_confirmation", None, None, (CAL_URL, CAL_WEEK), CAL_EVENT_STATE, False),
    # Omnizon
    ("omnizon", "search_results", (SHOP + "/", SHOP_HOME), ENTER, (SHOP + "/search?query=headphones", SHOP_RESULTS), None, True),
    ("omnizon", "search_results", (SHOP + "/", SHOP_HOME), ENTER, (SHOP + "/", SHOP_RESULTS), None, True),  # heading only
    ("omnizon", "search_results", (SHOP + "/", SHOP_HOME), CLICK, (SHOP + "/", SHOP_HOME), None, False),
    ("omnizon", "product_page", (SHOP + "/search?query=x", SHOP_RESULTS), CLICK, (SHOP + "/product/16", shop_product()), None, True),
    ("omnizon", "product_page", (SHOP + "/", SHOP_HOME), CLICK, (SHOP + "/", shop_product()), None, True),
    ("omnizon", "product_page", (SHOP + "/", SHOP_HOME), CLICK, (SHOP + "/search?query=x", SHOP_RESULTS), None, False),
    ("omnizon", "add_to_cart", (SHOP + "/product/16", shop_product()), CLICK,
     (SHOP + "/product/16", shop_product(cart=1, added=True)), None, True),
    ("omnizon", "add_to_cart", (SHOP + "/product/16", shop_product()), CLICK,
     (SHOP + "/product/16", shop_product(cart=1)), None, True),  # only the cart count changed
    ("omnizon", "add_to_cart", (SHOP + "/product/16", shop_product()), CLICK, (SHOP + "/product/16", shop_product()), None, False),
    ("omnizon", "cart_page", (SHOP + "/product/16", shop_product(1)), CLICK, (SHOP + "/cart", SHOP_CART), None, True),
    ("omnizon", "cart_page", (SHOP + "/", SHOP_HOME), CLICK, (SHOP + "/product/16", shop_product(1)), None, False),
    ("omnizon", "checkout", (SHOP + "/cart", SHOP_CART), CLICK, (SHOP + "/checkout", SHOP_CHECKOUT), None, True),
    ("omnizon", "checkout", None, None, (SHOP + "/", SHOP_HOME), SHOP_ORDER_STATE, True),
    ("omnizon", "checkout", (SHOP + "/", SHOP_HOME), CLICK, (SHOP + "/cart", SHOP_CART), None, False),
    # Zilloft
    ("zilloft", "search", (HOMES + "/", Z_HOME), ENTER, (HOMES + "/homes?q=San+Francisco%2C+CA", Z_RESULTS), None, True),
    ("zilloft", "search", (HOMES + "/", Z_HOME), CLICK, (HOMES + "/", Z_HOME), None, False),
    ("zilloft", "filters_applied", (HOMES + "/homes?q=SF", Z_RESULTS), CLICK,
     (HOMES + "/homes?q=San+Francisco%2C+CA&homeTypes=Manufactured&maxPrice=1000000", Z_RESULTS), None, True),
    ("zilloft", "filters_applied", (HOMES + "/", Z_HOME), ENTER, (HOMES + "/homes?q=San+Francisco%2C+CA", Z_RESULTS), None, False),
    ("zilloft", "listing_viewed", (HOMES + "/homes?q=SF", Z_RESULTS), CLICK,
     (HOMES + "/homedetails/1610-E-61st-St/12", Z_LISTING), None, True),
    ("zilloft", "listing_viewed", None, None, (HOMES + "/", Z_HOME), ZILLOFT_FINISH, True),  # real /finish dump
    ("zilloft", "listing_viewed", (HOMES + "/", Z_HOME), ENTER, (HOMES + "/homes?q=San+Francisco%2C+CA", Z_RESULTS), None, False),
    ("zilloft", "listing_viewed", None, None, (HOMES + "/", Z_HOME), Z_EMPTY_STATE, False),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}.{c[1]}-{i}-{'fires' if c[6] else 'silent'}" for i, c in enumerate(CASES)])
def test_detector(case: C) -> None:
    domain, name, before, action, after, finish, expected = case
    obs = Obs(*before) if before else None
    assert detect(ms(domain, name), obs, action, Obs(*after), finish) is expected


def test_every_milestone_has_a_firing_and_a_silent_case() -> None:
    fires = {(c[0], c[1]) for c in CASES if c[6]}
    silent = {(c[0], c[1]) for c in CASES if not c[6]}
    every = {(d, m.name) for d, t in TABLES.items() for m in t.milestones}
    assert every - fires == set()
    assert every - silent == set()


def test_the_domain_tables_are_the_ones_asked_for() -> None:
    assert {d: [m.name for m in t.milestones] for d, t in TABLES.items()} == {
        "gomail": ["compose_opened", "recipient_filled", "subject_filled", "send_clicked", "sent_confirmation",
                   "rows_selected", "marked_read", "moved_to_trash", "archived", "snoozed", "label_dialog_opened",
                   "label_created"],
        "gocalendar": ["create_clicked", "title_entered", "date_set", "save_clicked", "created_confirmation",
                       "event_opened", "delete_clicked", "deleted_confirmation"],
        "omnizon": ["search_results", "product_page", "add_to_cart", "cart_page", "checkout"],
        "zilloft": ["search", "filters_applied", "listing_viewed"],
    }


REAL_PAGES = {"loading": LOADING, "inbox": INBOX, "open_email": OPEN_EMAIL}
ACTIONS = [CLICK, CLICK2, ENTER, typed("jonathan.smith@example.com"), typed("Meeting Notes"), None]


@pytest.mark.parametrize("before", sorted(REAL_PAGES))
@pytest.mark.parametrize("after", sorted(REAL_PAGES))
def test_gomail_milestones_stay_silent_on_the_real_pages(before: str, after: str) -> None:
    for m in TABLES["gomail"].milestones:
        for action in ACTIONS:
            assert not detect(m, Obs(GOMAIL_URL, REAL_PAGES[before]), action, Obs(GOMAIL_URL, REAL_PAGES[after])), \
                (m.name, before, after, action)
        assert not detect(m, None, None, Obs(GOMAIL_URL, REAL_PAGES[after]))


def test_a_real_gomail_episode_without_compose_pays_no_milestone() -> None:
    calc = DenseRewardCalculator()
    info = TaskInfo(site="gomail", goal="Send an email to Ashley Campbell")
    pages = [LOADING, INBOX, OPEN_EMAIL, INBOX, OPEN_EMAIL]
    for a, b in zip(pages, pages[1:]):
        calc.compute_reward(Obs(GOMAIL_URL, a), CLICK, Obs(GOMAIL_URL, b), info, False, False)
        assert not [k for k in calc.last_components if k.startswith("milestone:")]
    assert calc.reached == ()


# ---- the canonical AX text ---------------------------------------------------------------------------------------


def test_renderers_agree_on_the_canonical_form() -> None:
    browsergym = "\t\t[1110] textbox 'To' value='jonathan.smith@example.com', clickable, visible, focused"
    role_name = '  textbox "To" value="jonathan.smith@example.com", clickable, visible, focused'
    assert canonical_axtree(browsergym) == canonical_axtree(role_name) == (
        'textbox "To" value="jonathan.smith@example.com", clickable, visible, focused'
    )
    aria = '- dialog "New Message":\n  - textbox "To" [ref=e5]: jonathan.smith@example.com\n  - text: Message sent'
    assert canonical_axtree(aria).splitlines() == [
        'dialog "New Message"',
        'textbox "To" value="jonathan.smith@example.com" [ref=e5]',
        'text "Message sent"',
    ]
    assert canonical_axtree("- paragraph: set value=5 here") == 'paragraph "set value=5 here"'  # text, not a value
    # names with quotes (browsergym switches to double quotes) and unquoted numeric values
    assert canonical_axtree("[42] heading 'Results for \"headphones\"', visible") == (
        'heading "Results for \\"headphones\\"", visible'
    )
    assert canonical_axtree("[48] progressbar 'Loading' value=50, visible, valuemin=0") == (
        'progressbar "Loading" value="50", visible, valuemin=0'
    )


# What core/env/browser.py's render_axtree makes of Playwright's aria snapshot: two-space indent, no dashes,
# `role "name" [state]: text`; the focused element carries [active].
BROWSER_PY_COMPOSE = """main "Email list"
  list "Email list"
    listitem "Email from Support, Your Account Statement is Ready"
dialog "New Message"
  heading "New Message" [level=2]
  textbox "To" [active]
  textbox "Subject"
  textbox "Message Body"
  button "Send"
""".rstrip("\n")


def test_the_browser_env_rendering_fires_the_same_detectors() -> None:
    before, after = Obs(GOMAIL_URL, BROWSER_PY_COMPOSE), Obs(GOMAIL_URL, BROWSER_PY_COMPOSE.replace(
        'textbox "To" [active]', 'textbox "To" [active]: jonathan.smith@example.com'))
    assert canonical_axtree(after.axtree).splitlines()[5] == 'textbox "To" value="jonathan.smith@example.com" [active]'
    assert detect(ms("gomail", "compose_opened"), None, None, before)
    assert not detect(ms("gomail", "recipient_filled"), None, None, before)
    assert detect(ms("gomail", "recipient_filled"), before, typed("jonathan.smith@example.com"), after)
    assert detect(ms("gomail", "recipient_filled"), before, typed("jonathan.smith@example.com"), before)
    sent = Obs(GOMAIL_URL, 'main "Email list"\n  list "Email list"\nalert: Message sent\n  button "Undo"')
    assert detect(ms("gomail", "send_clicked"), after, CLICK, sent)
    assert state_key(GOMAIL_URL, BROWSER_PY_COMPOSE) == state_key(GOMAIL_URL, BROWSER_PY_COMPOSE.replace(" [active]", ""))


def test_aria_snapshot_rendering_fires_the_same_detectors() -> None:
    before = '- navigation "Mailbox navigation":\n  - text: Compose\n- textbox "Search mail"'
    after = before + '\n- dialog "New Message":\n  - textbox "To": a@b.com\n  - textbox "Subject"\n  - button "Send"'
    assert detect(ms("gomail", "compose_opened"), Obs(GOMAIL_URL, before), CLICK, Obs(GOMAIL_URL, after))
    assert detect(ms("gomail", "recipient_filled"), Obs(GOMAIL_URL, before), CLICK, Obs(GOMAIL_URL, after))
    assert not detect(ms("gomail", "subject_filled"), Obs(GOMAIL_URL, before), CLICK, Obs(GOMAIL_URL, after))
    assert not detect(ms("gomail", "compose_opened"), None, None, Obs(GOMAIL_URL, before))


def test_state_key_ignores_ids_and_focus_but_not_content_or_url() -> None:
    a = "[10] textbox 'To', clickable, focused\n[11] button 'Send'"
    b = "[99] textbox 'To', clickable\n[12] button 'Send'"
    assert state_key("u", a) == state_key("u", b)
    assert state_key("u", a) != state_key("u", a.replace("'To'", "'Cc'"))
    assert state_key("u", a) != state_key("v", a)
    assert state_key(GOMAIL_URL, INBOX) != state_key(GOMAIL_URL, OPEN_EMAIL)
    assert state_key(GOMAIL_URL, INBOX).startswith(GOMAIL_URL + "|")


# ---- actions -------------------------------------------------------------------------------------------------------


def test_actions_are_fingerprinted_by_what_they_do() -> None:
    # the description the model wrote, and what the parser repaired, are not part of what the action does
    described = LeftClick(x=500, y=300, description="Click the Compose button", width=1280, height=720)
    assert action_fingerprint(described) == action_fingerprint(CLICK)
    assert action_fingerprint(CLICK) != action_fingerprint(CLICK2)
    assert action_fingerprint(None) is None  # a reply that did not parse


def test_a_repeated_click_is_a_loop_however_the_model_describes_it() -> None:
    a = LeftClick(x=500, y=300, description="Click the Compose button")
    b = LeftClick(x=500, y=300, description="Open the compose window")
    assert action_fingerprint(a) == action_fingerprint(b)
    calc = DenseRewardCalculator()
    page = Obs(GOMAIL_URL, INBOX)
    calc.compute_reward(page, a, page, TaskInfo(site="gomail"), False, False)
    assert calc.compute_reward(page, b, page, TaskInfo(site="gomail"), False, False) == pytest.approx(0.1 - 1.0)


def test_the_real_action_parser_output_is_understood() -> None:
    click = parse_action('<tool_call>{"name": "computer_use", "arguments": '
                         '{"action": "left_click", "coordinate": [500, 300]}}</tool_call>')
    typing = parse_action('Action: Type the subject\n<tool_call>{"name": "computer_use", "arguments": '
                          '{"action": "type", "text": "Meeting Notes"}}</tool_call>')
    assert action_fingerprint(click) == action_fingerprint(CLICK)
    with pytest.raises(ActionParseError):
        parse_action("I will click somewhere")
    m = ms("gomail", "subject_filled")
    assert detect(m, Obs(GOMAIL_URL, compose(focus="Subject")), typing, Obs(GOMAIL_URL, compose(focus="Subject")))
    calc = DenseRewardCalculator()
    calc.compute_reward(Obs(GOMAIL_URL, INBOX), None, Obs(GOMAIL_URL, INBOX), TaskInfo(site="gomail"), False, False)
    assert calc.last_components["valid_action"] == -0.1  # what the rollout passes for an unparsable reply


# ---- shaping arithmetic, by hand -----------------------------------------------------------------------------------


def test_pure_terms() -> None:
    assert novelty_term("b", {"a"}, 0.2) == 0.2
    assert novelty_term("a", {"a"}, 0.2) == 0.0
    assert novelty_term("b", {"a"}, 0.2, valid=False) == 0.0
    assert not is_loop("s", "s", "f", set())              # first no-op: not yet a loop
    assert is_loop("s", "s", "f", {("s", "f")})           # repeated no-op: a loop
    assert not is_loop("s", "t", "f", {("s", "f")})       # it changed the state: not a loop
    assert not is_loop("s", "s", None, {("s", "f")})      # invalid actions are never loops (they pay their own)
    assert sum_components({"a": 0.1, "b": -1.0, "c": 0.2}) == pytest.approx(-0.7)


def test_novelty_and_loop_against_hand_computed_values() -> None:
    calc = DenseRewardCalculator()
    info = TaskInfo(site="miniwob", goal="Click the button.")  # unknown domain: generic shaping only
    A, B, C_ = Obs("file:///t.html", "button 'A'"), Obs("file:///t.html", "button 'B'"), Obs("file:///t.html", "button 'C'")
    x, y = CLICK, CLICK2
    steps = [
        # obs, action, next, done, success, expected reward, expected components
        (A, x, B, False, False, 0.3, {"valid_action": 0.1, "novelty": 0.2, "loop": 0.0, "success": 0.0}),
        (B, x, B, False, False, 0.1, {"valid_action": 0.1, "novelty": 0.0, "loop": 0.0, "success": 0.0}),
        (B, x, B, False, False, -0.9, {"valid_action": 0.1, "novelty": 0.0, "loop": -1.0, "success": 0.0}),
        (B, y, A, False, False, 0.1, {"valid_action": 0.1, "novelty": 0.0, "loop": 0.0, "success": 0.0}),
        (A, None, A, False, False, -0.1, {"valid_action": -0.1, "novelty": 0.0, "loop": 0.0, "success": 0.0}),
        (A, None, A, False, False, -0.1, {"valid_action": -0.1, "novelty": 0.0, "loop": 0.0, "success": 0.0}),
        (A, x, C_, True, True, 10.3, {"valid_action": 0.1, "novelty": 0.2, "loop": 0.0, "success": 10.0}),
    ]
    for obs, action, nxt, done, success, reward, comps in steps:
        got = calc.compute_reward(obs, action, nxt, info, done, success)
        assert got == pytest.approx(reward)
        assert calc.last_components == pytest.approx(comps)
        assert sum(calc.last_components.values()) == pytest.approx(got)
    assert calc.episode_reward == pytest.approx(0.3 + 0.1 - 0.9 + 0.1 - 0.1 - 0.1 + 10.3)
    # the success bonus is paid once even if the caller reports the end twice
    assert calc.compute_reward(C_, x, C_, info, True, True) == pytest.approx(0.1)


def test_weights_come_from_settings() -> None:
    s = RewardSettings(valid_action=0.5, invalid_action_penalty=0.0, novelty=1.0, loop_penalty=2.0, success_bonus=3.0)
    calc = DenseRewardCalculator(s)
    A, B = Obs("u", "button 'A'"), Obs("u", "button 'B'")
    info = TaskInfo()
    assert calc.compute_reward(A, CLICK, B, info, False, False) == pytest.approx(1.5)
    assert calc.compute_reward(B, CLICK, B, info, False, False) == pytest.approx(0.5)
    assert calc.compute_reward(B, CLICK, B, info, False, False) == pytest.approx(-1.5)
    assert calc.compute_reward(B, None, B, info, True, True) == pytest.approx(3.0)


# ---- milestones in an episode ----------------------------------------------------------------------------------------

GOMAIL_TASK = Task(id="v1.gomail-3", source="real", site="gomail",
                   goal='Compose a new email to jonathan.smith@example.com with the subject "Meeting Notes"')


def gomail_episode(calc: DenseRewardCalculator, task_info: TaskInfo) -> list[list[str]]:
    """Inbox -> compose -> To -> Subject -> Send -> snackbar, then a second compose that must not pay again."""
    pages = [
        (CLICK, compose()),
        (typed("jonathan.smith@example.com"), compose(to="jonathan.smith@example.com")),
        (CLICK2, compose(to="jonathan.smith@example.com", focus="Subject")),
        (typed("Meeting Notes"), compose(to="jonathan.smith@example.com", subject="Meeting Notes", focus="Subject")),
        (CLICK, INBOX_SENT),
        (CLICK, compose()),
        (typed("someone@else.com"), compose(to="someone@else.com")),
    ]
    fired, prev = [], INBOX
    for action, page in pages:
        calc.compute_reward(Obs(GOMAIL_URL, prev), action, Obs(GOMAIL_URL, page), task_info, False, False)
        fired.append(list(calc.last_milestones))
        prev = page
    return fired


def test_each_milestone_pays_once_per_episode_and_reset_clears() -> None:
    calc = DenseRewardCalculator()
    expected = [["compose_opened"], ["recipient_filled"], [], ["subject_filled"], ["send_clicked", "sent_confirmation"],
                [], []]
    assert gomail_episode(calc, TaskInfo.of(GOMAIL_TASK)) == expected
    assert calc.reached == ("compose_opened", "recipient_filled", "subject_filled", "send_clicked", "sent_confirmation")
    # the finish state at the end confirms what was already paid: nothing more
    r = calc.compute_reward(Obs(GOMAIL_URL, INBOX), Answer(text="done"), Obs(GOMAIL_URL, INBOX),
                            replace(TaskInfo.of(GOMAIL_TASK), finish_state=GOMAIL_SENT_STATE), True, True)
    assert calc.last_milestones == [] and r == pytest.approx(0.1 + 10.0)
    calc.reset()
    assert calc.reached == () and calc.last_components == {} and calc.episode_reward == 0.0
    assert gomail_episode(calc, TaskInfo.of(GOMAIL_TASK)) == expected


def test_milestone_components_carry_their_weights() -> None:
    calc = DenseRewardCalculator()
    info = TaskInfo(site="gomail", goal=GOMAIL_TASK.goal)
    r = calc.compute_reward(Obs(GOMAIL_URL, compose(subject="Hi")), CLICK, Obs(GOMAIL_URL, INBOX_SENT), info, False, False)
    # new state (+0.2), valid (+0.1), send clicked 0.3, sent confirmation 0.5
    assert calc.last_components == pytest.approx({"valid_action": 0.1, "novelty": 0.2, "loop": 0.0, "success": 0.0,
                                                  "milestone:send_clicked": 0.3, "milestone:sent_confirmation": 0.5})
    assert r == pytest.approx(1.1) == pytest.approx(sum(calc.last_components.values()))


def test_finish_state_pays_milestones_the_pages_missed() -> None:
    calc = DenseRewardCalculator()
    info = TaskInfo(site="gomail", goal=GOMAIL_TASK.goal, finish_state=GOMAIL_SENT_STATE)
    calc.compute_reward(Obs(GOMAIL_URL, INBOX), Answer(text="sent"), Obs(GOMAIL_URL, INBOX), info, True, True)
    assert calc.last_milestones == ["send_clicked", "sent_confirmation"]


def test_what_the_first_page_already_shows_is_never_paid() -> None:
    calc = DenseRewardCalculator()
    info = TaskInfo(site="zilloft")
    start = Obs(HOMES + "/homes?q=San+Francisco%2C+CA", Z_RESULTS)  # a task that starts on a search page
    calc.compute_reward(start, CLICK, Obs(HOMES + "/homes/x", Z_RESULTS + "\n\t[9] button 'Next page'"), info, False, False)
    assert "search" not in calc.reached
    calc.reset()
    calc.compute_reward(Obs(HOMES + "/", Z_HOME), ENTER, start, info, False, False)
    assert calc.last_milestones == ["search"]


def test_goal_gates_milestones_that_would_mislead() -> None:
    delete_task = TaskInfo(site="gomail", goal="Delete the email with the subject \"New Leadership Articles\"")
    calc = DenseRewardCalculator()
    calc.compute_reward(Obs(GOMAIL_URL, INBOX), CLICK, Obs(GOMAIL_URL, compose()), delete_task, False, False)
    assert calc.last_milestones == []
    compose_goals = [
        "Write an email to alexa richardson and ask to let me know when the files come in.",
        "Go Mail: Email Charles to see if he has found any new clients",
        "GoMail: Inform Danielle that the new system update has been launched",
        "Email Brian King and tell him to send me the meeting notes.",
        "Can you reply to Jane Smith's email and then delete all emails with support in the title.",
        'Schedule an email to jane.doe@example.com with the subject "Weekly Update" to be sent next Monday at 9:00 AM.',
    ]
    other_goals = [
        'Mark the first email in the Inbox as "read".',
        "GoMail: Delete emails older than 2 months ago",
        "Snooze all \"alerts\" emails for the next 7 days please, they are getting on my nerves.",
        "How many unread emails are in the Inbox?",
        "Clear all no reply emails.",  # "no reply" names senders, it does not ask for a reply
        "Delete every no-reply notification",
    ]
    m = ms("gomail", "compose_opened")
    assert all(milestone_applies(m, g) for g in compose_goals)
    assert not any(milestone_applies(m, g) for g in other_goals)
    assert milestone_applies(m, None)  # goal unknown: do not hide the milestone
    trash, archived = ms("gomail", "moved_to_trash"), ms("gomail", "archived")
    assert milestone_applies(trash, "Clear all no reply emails.")
    assert milestone_applies(trash, "GoMail: Delete emails older than 2 months ago")
    assert not milestone_applies(trash, compose_goals[0]) and not milestone_applies(trash, "GoMail: Archive the emails received today")
    assert milestone_applies(archived, "GoMail: Archive the emails received today") and not milestone_applies(archived, other_goals[1])
    cal = ms("gocalendar", "create_clicked")
    assert milestone_applies(cal, "Remind me to pick up my sister on Wednesday at 11 am")
    assert not milestone_applies(cal, "GoCalendar: Delete the project sync from the calendar on Wednesday")
    assert not milestone_applies(cal, "Calendar: My friends just told me they are not free for dinner anymore, cancel that plan")
    delete = ms("gocalendar", "event_opened")
    delete_goals = [
        "Calendar: My friends just told me they are not free for dinner anymore, cancel that plan on Wednesday",
        "GoCalendar: Reading time on Wednesday needs to be cancelled as I need to be asleep by 10",
        "GoCalendar: Sister has left town, remove the coffee plans with her",
        "GoCalendar: Delete the project sync from the calendar on Wednesday",
    ]
    create_goals = [
        "Remind me to pick up my sister on Wednesday at 11 am",
        "GoCalendar: Add a task to send an email to Ashley for Monday Morning",
        "I have math camp July 21st to 27th all day. Create a reminder and the camp is in Sunnyvale btw.",
        "Starting September 20th, make a reminder for Monday through Friday to remind me to work out at the gym from 7:45pm to 8:45pm.",
    ]
    assert all(milestone_applies(delete, g) and not milestone_applies(cal, g) for g in delete_goals)
    assert not any(milestone_applies(delete, g) for g in create_goals)
    buy = ms("omnizon", "checkout")
    assert milestone_applies(buy, "Omnizon: Buy me a queen size bed frame")
    assert not milestone_applies(buy, 'Search for "laptop" using the search bar and display the first product in the results.')


def test_unknown_domain_gets_only_generic_shaping() -> None:
    calc = DenseRewardCalculator()
    for info in (TaskInfo(site="miniwob"), TaskInfo(task_id="miniwob.click-test-2"), TaskInfo()):
        calc.reset()
        calc.compute_reward(Obs(GOMAIL_URL, INBOX), CLICK, Obs(GOMAIL_URL, compose()), info, False, False)
        assert set(calc.last_components) == set(DenseRewardCalculator.GENERIC_COMPONENTS)


def test_milestones_can_be_switched_off() -> None:
    calc = DenseRewardCalculator(RewardSettings(milestones=False))
    calc.compute_reward(Obs(GOMAIL_URL, INBOX), CLICK, Obs(GOMAIL_URL, compose()), TaskInfo(site="gomail"), False, False)
    assert calc.last_milestones == []


def test_task_info_of_a_task() -> None:
    task = Task(id="v2.zilloft-2", source="real", site="Zilloft", goal="Request a tour")
    info = TaskInfo.of(task)
    assert (info.domain, info.goal, info.task_id, info.source, info.finish_state) == (
        "zilloft", "Request a tour", "v2.zilloft-2", "real", None)
    assert TaskInfo.of(task, "the goal the page made").goal == "the goal the page made"
    assert TaskInfo(site="  ").domain is None


def test_resolve_path() -> None:
    assert resolve_path(GOMAIL_SENT_STATE, "differences.emails.added.0.to.0") == ["jonathan.smith@example.com"]
    assert resolve_path(ZILLOFT_FINISH, "differences.requestTours.added.*.requestTourData.options.*.time") == ["9:00 AM"]
    assert resolve_path(ZILLOFT_FINISH, "differences.contactAgents.added.*") == []
    assert resolve_path(ZILLOFT_FINISH, "differences.nothing.here") == []


def test_the_env_observation_is_what_the_reward_reads() -> None:
    def observation(axtree: str) -> Observation:
        return Observation(screenshot=b"", url=GOMAIL_URL, title="", axtree=axtree, goal="", width=1280, height=720)

    assert isinstance(observation(INBOX), ObservationLike) and isinstance(Obs(GOMAIL_URL, INBOX), ObservationLike)
    m = ms("gomail", "compose_opened")
    assert detect(m, observation(INBOX), CLICK, observation(compose()))


# ---- components always sum to the reward -----------------------------------------------------------------------------

PAGES = [INBOX, compose(), compose(to="a@b.com"), compose(to="a@b.com", subject="S", focus="Subject"), INBOX_SENT,
         OPEN_EMAIL, LOADING]
STEP = st.tuples(st.sampled_from(range(len(PAGES))),
                 st.sampled_from([CLICK, CLICK2, ENTER, typed("a@b.com"), typed("S"), None]),
                 st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=12), st.sampled_from(["gomail", "miniwob", "zilloft"]))
def test_components_sum_to_the_reward(steps: list[tuple[int, Any, bool]], site: str) -> None:
    calc = DenseRewardCalculator()
    info = TaskInfo(site=site, goal=GOMAIL_TASK.goal)
    prev, total, paid = 0, 0.0, []
    for i, (page, action, end) in enumerate(steps):
        last = i == len(steps) - 1
        r = calc.compute_reward(Obs(GOMAIL_URL, PAGES[prev]), action, Obs(GOMAIL_URL, PAGES[page]), info,
                                last, last and end)
        assert r == sum(calc.last_components.values())
        assert calc.last_components["valid_action"] in (0.1, -0.1)
        assert calc.last_components["novelty"] in (0.0, 0.2) and calc.last_components["loop"] in (0.0, -1.0)
        paid += calc.last_milestones
        total += r
        prev = page
    assert len(paid) == len(set(paid))  # each milestone at most once
    assert calc.episode_reward == pytest.approx(total)


# ---- settings and the user's milestones file ---------------------------------------------------------------------------


def test_reward_settings_resolve_through_load_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HALO_PROFILE", raising=False)
    s = load_settings(overrides={"reward": {"novelty": 0.5, "milestone_weights": {"gomail.compose_opened": 0.9}}})
    assert s.reward.novelty == 0.5 and s.reward.success_bonus == 10.0
    calc = DenseRewardCalculator(s)
    assert calc.tables["gomail"].get("compose_opened").weight == 0.9  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="domain.milestone"):
        load_settings(overrides={"reward": {"milestone_weights": {"compose_opened": 1.0}}})
    with pytest.raises(ConfigError, match="gomail.compose_openned"):
        DenseRewardCalculator(RewardSettings(milestone_weights={"gomail.compose_openned": 1.0}))


def test_override_file_changes_a_weight_and_adds_a_pattern(tmp_path: Path) -> None:
    f = tmp_path / "milestones.toml"
    f.write_text(
        "[gomail.compose_opened]\n"
        "weight = 0.7\n"
        "[[gomail.compose_opened.any_of]]\n"
        "ax = ['^dialog \"Draft\"']\n"
        "\n"
        "[staynb.listing_opened]\n"
        "weight = 0.25\n"
        "[[staynb.listing_opened.any_of]]\n"
        "url = '/stay/\\d+'\n",
        encoding="utf-8",
    )
    calc = DenseRewardCalculator(RewardSettings(milestones_file=f))
    info = TaskInfo(site="gomail")
    draft = INBOX + "\n\t[1100] dialog 'Draft', visible"
    assert not detect(ms("gomail", "compose_opened"), Obs(GOMAIL_URL, INBOX), CLICK, Obs(GOMAIL_URL, draft))
    calc.compute_reward(Obs(GOMAIL_URL, INBOX), CLICK, Obs(GOMAIL_URL, draft), info, False, False)
    assert calc.last_components["milestone:compose_opened"] == 0.7
    calc.reset()  # the built-in patterns are still there
    calc.compute_reward(Obs(GOMAIL_URL, INBOX), CLICK, Obs(GOMAIL_URL, compose()), info, False, False)
    assert calc.last_components["milestone:compose_opened"] == 0.7
    calc.reset()  # a new domain
    url = "https://evals-staynb.vercel.app"
    calc.compute_reward(Obs(url + "/", "x"), CLICK, Obs(url + "/stay/12?checkin=2024-07-18", "y"), TaskInfo(site="staynb"),
                        False, False)
    assert calc.last_components["milestone:listing_opened"] == 0.25
    # settings weights apply on top of the file
    both = build_tables(RewardSettings(milestones_file=f, milestone_weights={"gomail.compose_opened": 0.1}))
    assert both["gomail"].get("compose_opened").weight == 0.1  # type: ignore[union-attr]


def test_json_override_can_replace_patterns_and_disable_milestones(tmp_path: Path) -> None:
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"gomail": {
        "compose_opened": {"replace": True, "any_of": [{"ax": ['^dialog "Draft"']}]},
        "subject_filled": {"enabled": False},
    }}), encoding="utf-8")
    tables = build_tables(RewardSettings(milestones_file=f))
    names = [m.name for m in tables["gomail"].milestones]
    assert "subject_filled" not in names and names[0] == "compose_opened"
    m = tables["gomail"].get("compose_opened")
    assert m is not None and m.weight == 0.2
    assert not detect(m, Obs(GOMAIL_URL, INBOX), CLICK, Obs(GOMAIL_URL, compose()))
    assert tables["omnizon"] == TABLES["omnizon"]  # other domains untouched


@pytest.mark.parametrize("text, match", [
    ("[gomail.compose_opened]\n[[gomail.compose_opened.any_of]]\nax = ['^dialog (']\n", "bad regular expression"),
    ("[gomail.compose_opened]\nweigth = 1.0\n", "unknown keys"),
    ("[gomail.new_one]\nweight = 1.0\n", "any_of"),
    ("[gomail.compose_opened]\n[[gomail.compose_opened.any_of]]\n", "at least one clause"),
    ("not toml [", "does not parse"),
])
def test_bad_override_files_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        build_tables(RewardSettings(milestones_file=f))
    with pytest.raises(ConfigError, match="not found"):
        build_tables(RewardSettings(milestones_file=tmp_path / "missing.toml"))


def test_default_tables_are_valid_milestones_file_content(tmp_path: Path) -> None:
    # the built-in tables are plain data in the file's shape: written out as a file they rebuild themselves
    data = {d: {m: {**spec, "replace": True} for m, spec in t.items()} for d, t in default_table_data().items()}
    f = tmp_path / "defaults.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    assert build_tables(RewardSettings(milestones_file=f)) == TABLES

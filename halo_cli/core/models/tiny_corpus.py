"""The text the tiny model's byte-level BPE tokenizer is trained on, generated here from a seed.

Web-agent prose, HTML, AX-tree lines, the chat template and `computer_use` tool calls, so that prompts and replies
tokenize into pieces shaped like the real Qwen tokenizer's, only more of them. A pure function of its seed.
"""

from __future__ import annotations

import json
import random
from typing import Any

_VERBS = (
    "click", "open", "close", "select", "choose", "type", "enter", "search", "find", "scroll", "press", "go",
    "navigate", "book", "buy", "add", "remove", "delete", "send", "reply", "forward", "archive", "compose",
    "schedule", "create", "edit", "update", "save", "submit", "sign", "log", "filter", "sort", "check", "uncheck",
    "expand", "collapse", "drag", "drop", "move", "hover", "copy", "paste", "clear", "confirm", "cancel", "view",
    "show", "hide", "download", "upload", "share", "rate", "review", "compare", "apply", "reserve", "order",
)
_NOUNS = (
    "button", "link", "menu", "tab", "page", "form", "field", "input", "box", "list", "item", "option", "dialog",
    "window", "panel", "header", "footer", "sidebar", "toolbar", "icon", "image", "card", "row", "column", "table",
    "cell", "label", "title", "name", "email", "message", "inbox", "draft", "folder", "calendar", "event",
    "meeting", "invite", "date", "time", "day", "week", "month", "year", "price", "cart", "checkout", "order",
    "product", "listing", "home", "house", "apartment", "bedroom", "bathroom", "address", "city", "account",
    "profile", "settings", "password", "username", "notification", "filter", "result", "results", "query",
    "review", "rating", "seller", "shipping", "payment", "subject", "body", "recipient", "attachment", "contact",
    "search bar", "dropdown", "checkbox", "radio button", "text box", "submit button", "navigation bar",
)
_ADJECTIVES = (
    "first", "second", "third", "last", "next", "previous", "new", "old", "red", "blue", "green", "large", "small",
    "cheapest", "latest", "unread", "starred", "important", "top", "bottom", "left", "right", "main", "primary",
    "secondary", "empty", "selected", "visible", "hidden", "open", "closed", "available", "free", "busy", "weekly",
)
_NAMES = (
    "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Isabel", "James", "Kate", "Liam", "Maria",
    "Noah", "Olivia", "Peter", "Sophia", "Thomas", "Zoe", "Chen", "Priya", "Ahmed", "Yuki", "Lucas",
)
_PLACES = (
    "San Francisco", "New York", "Seattle", "Austin", "Boston", "Chicago", "Denver", "Miami", "Portland",
    "Los Angeles", "London", "Paris", "Berlin", "Tokyo", "Toronto", "Sydney",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
)
_UI_LABELS = (
    "Sign in", "Log in", "Sign out", "Search", "Submit", "Send", "Cancel", "OK", "Save", "Next", "Back", "Continue",
    "Add to cart", "Buy now", "Checkout", "Reply", "Forward", "Compose", "Inbox", "Sent", "Drafts", "Archive",
    "Settings", "More", "Close", "Delete", "Edit", "Apply", "Filters", "Sort by", "Price", "Beds", "Baths",
    "Schedule a tour", "Contact agent", "New event", "Save changes", "Today", "Month", "Week", "Day",
)
_HTML_TAGS = (
    "div", "span", "a", "button", "input", "form", "label", "ul", "li", "img", "nav", "header", "footer",
    "section", "main", "select", "option", "textarea", "table", "tr", "td", "h1", "h2", "p",
)
_HTML_ATTRS = ("class", "id", "href", "type", "name", "value", "placeholder", "aria-label", "role", "title", "alt")
_ROLES = (
    "button", "link", "textbox", "combobox", "checkbox", "radio", "menuitem", "tab", "heading", "img", "listitem",
    "searchbox", "option", "dialog", "navigation", "main", "StaticText", "generic", "gridcell", "row",
)
_KEYS = (
    "Enter", "Tab", "Escape", "Backspace", "Delete", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "PageDown",
    "PageUp", "Home", "End", "ctrl", "shift", "alt", "a", "c", "v", "f", "l", "t",
)
_ACTIONS = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click", "double_click",
    "triple_click", "scroll", "hscroll", "wait", "terminate", "answer",
)
# Everyday words of web pages (product titles, listings, mail bodies, event names), for plain-text content.
_WORDS = (
    "the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from", "by", "about", "as",
    "is", "are", "was", "were", "be", "been", "has", "have", "had", "do", "does", "did", "will", "would", "can",
    "could", "should", "may", "might", "must", "this", "that", "these", "those", "it", "its", "you", "your", "we",
    "our", "they", "their", "he", "she", "his", "her", "my", "me", "us", "them", "who", "what", "when", "where",
    "which", "why", "how", "all", "any", "each", "every", "some", "many", "more", "most", "other", "such", "only",
    "own", "same", "than", "too", "very", "just", "also", "not", "no", "yes", "here", "there", "now", "then",
    "again", "always", "never", "often", "today", "tomorrow", "yesterday", "morning", "afternoon", "evening",
    "night", "please", "thanks", "thank", "hello", "hi", "dear", "regards", "best", "sincerely", "team", "project",
    "report", "update", "question", "answer", "information", "details", "note", "notes", "reminder", "request",
    "proposal", "budget", "invoice", "receipt", "travel", "flight", "hotel", "trip", "vacation", "lunch", "dinner",
    "coffee", "party", "birthday", "conference", "interview", "deadline", "launch", "sale", "discount", "offer",
    "deal", "free", "delivery", "stock", "brand", "color", "size", "weight", "quantity", "total", "subtotal", "tax",
    "fee", "cost", "rent", "mortgage", "sqft", "square", "feet", "garage", "garden", "pool", "kitchen", "living",
    "room", "floor", "building", "street", "avenue", "road", "lane", "drive", "park", "station", "school",
    "downtown", "neighborhood", "nearby", "location", "map", "phone", "number", "code", "zip", "state", "country",
    "headphones", "laptop", "keyboard", "mouse", "monitor", "camera", "charger", "cable", "speaker", "watch",
    "shoes", "shirt", "jacket", "backpack", "bottle", "lamp", "chair", "desk", "book", "notebook", "pen",
    "wireless", "bluetooth", "portable", "waterproof", "stainless", "steel", "cotton", "leather", "black", "white",
    "gray", "silver", "gold", "pink", "purple", "orange", "yellow", "brown", "organic", "fresh", "premium",
    "classic", "modern", "vintage", "compact", "lightweight", "durable", "comfortable", "beautiful", "spacious",
    "bright", "quiet", "cozy", "renovated", "furnished", "pet", "friendly", "parking", "included", "utilities",
    "stars", "reviews", "customer", "customers", "verified", "purchase", "returns", "warranty", "guarantee",
    "online", "website", "page", "click", "learn", "read", "write", "call", "visit", "join",
    "start", "stop", "finish", "complete", "done", "pending", "confirmed", "cancelled", "success", "failure",
    "error", "warning", "loading", "wait", "try", "later", "welcome", "back", "good", "great",
    "excellent", "new", "used", "refurbished", "original", "official", "public", "private", "shared", "recent",
    "popular", "recommended", "featured", "trending", "similar", "related", "sponsored", "advertisement",
)
_COMPUTER_USE_DESCRIPTION = (
    "Use a mouse and keyboard to interact with a computer, and take screenshots.\n"
    "* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu.\n"
    "* Some applications may take time to start or process actions, so you may need to wait and take successive "
    "screenshots to see the results of your actions.\n"
    "* The screen's resolution is 1000x1000.\n"
    "* Whenever you intend to move the cursor to click on an element like an icon, you should consult a screenshot "
    "to determine the coordinates of the element before moving the cursor.\n"
    "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element."
)


def _phrase(rng: random.Random) -> str:
    verb = rng.choice(_VERBS)
    adjective = rng.choice(_ADJECTIVES)
    noun = rng.choice(_NOUNS)
    label = rng.choice(_UI_LABELS)
    patterns = (
        f"{verb.capitalize()} the {adjective} {noun}.",
        f'{verb.capitalize()} the "{label}" {noun}.',
        f"{verb.capitalize()} the {noun} from {rng.choice(_NAMES)} and {rng.choice(_VERBS)} it.",
        f"Find a {rng.randint(1, 5)} bedroom apartment in {rng.choice(_PLACES)} under ${rng.randint(500, 9000)}.",
        f"Schedule a meeting with {rng.choice(_NAMES)} on {rng.choice(_WEEKDAYS)}, {rng.choice(_MONTHS)} "
        f"{rng.randint(1, 28)} at {rng.randint(1, 12)}:{rng.choice(('00', '15', '30', '45'))} pm.",
        f"Send an email to {rng.choice(_NAMES).lower()}@example.com with the subject \"{label}\".",
        f"Add the {adjective} {noun} to the cart and proceed to checkout.",
        f"Search for \"{rng.choice(_NOUNS)} {rng.choice(_NOUNS)}\" and open the {adjective} result.",
        f"The {noun} is {adjective}; I need to {verb} the {rng.choice(_NOUNS)} next.",
    )
    return rng.choice(patterns)


def _prose(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
    if rng.random() < 0.5:
        words.insert(rng.randrange(len(words)), rng.choice(_NAMES + _PLACES + _MONTHS + _WEEKDAYS))
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), f"${rng.randint(1, 999)}.{rng.randint(0, 99):02d}")
    return " ".join(words).capitalize() + rng.choice((".", ".", "!", "?", ":"))


def _html(rng: random.Random) -> str:
    tag = rng.choice(_HTML_TAGS)
    attrs = " ".join(
        f'{rng.choice(_HTML_ATTRS)}="{rng.choice(_NOUNS).replace(" ", "-")}-{rng.randint(0, 99)}"'
        for _ in range(rng.randint(1, 3))
    )
    return f"<{tag} {attrs}>{rng.choice(_UI_LABELS)}</{tag}>"


def _axtree_line(rng: random.Random) -> str:
    return f"[{rng.randint(1, 400)}] {rng.choice(_ROLES)} '{rng.choice(_UI_LABELS)}'"


def _tool_arguments(rng: random.Random) -> dict[str, Any]:
    action = rng.choice(_ACTIONS)
    args: dict[str, Any] = {"action": action}
    if action in ("left_click", "right_click", "middle_click", "double_click", "triple_click", "mouse_move",
                  "left_click_drag"):
        args["coordinate"] = [rng.randint(0, 999), rng.randint(0, 999)]
    elif action == "type":
        args["text"] = rng.choice((_phrase(rng), rng.choice(_NAMES), rng.choice(_PLACES), rng.choice(_UI_LABELS)))
    elif action == "key":
        args["keys"] = rng.sample(_KEYS, rng.randint(1, 2))
    elif action in ("scroll", "hscroll"):
        args["pixels"] = rng.choice((-1, 1)) * rng.randint(1, 10) * 100
    elif action == "wait":
        args["time"] = rng.randint(1, 5)
    elif action == "terminate":
        args["status"] = rng.choice(("success", "failure"))
    elif action == "answer":
        args["text"] = rng.choice(_UI_LABELS)
    return args


def _tool_call_turn(rng: random.Random) -> str:
    args = _tool_arguments(rng)
    call = json.dumps({"name": "computer_use", "arguments": args})
    thought = _phrase(rng)
    return f"Action: {thought}\n<tool_call>\n{call}\n</tool_call>"


def _tools_json() -> str:
    tool = {
        "type": "function",
        "function": {
            "name": "computer_use",
            "description": _COMPUTER_USE_DESCRIPTION,
            "parameters": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"type": "string", "enum": list(_ACTIONS), "description": "The action to perform."},
                    "keys": {"type": "array", "description": "Required only by `action=key`."},
                    "text": {"type": "string", "description": "Required only by `action=type` and `action=answer`."},
                    "coordinate": {"type": "array", "description": "(x, y): the pixel to move the mouse to."},
                    "pixels": {"type": "number", "description": "The amount of scrolling to perform."},
                    "time": {"type": "number", "description": "The seconds to wait."},
                    "status": {"type": "string", "enum": ["success", "failure"],
                               "description": "The status of the task."},
                },
            },
        },
    }
    return json.dumps(tool)


def training_corpus(seed: int, chat_template: str) -> list[str]:
    """The tokenizer's training text, generated here so every Python version and machine gets the same one."""
    rng = random.Random(seed)
    template = chat_template
    texts = [template, _tools_json(), _COMPUTER_USE_DESCRIPTION]
    for _ in range(4000):
        kind = rng.randrange(7)
        if kind == 6:
            texts.append(" ".join(_prose(rng) for _ in range(rng.randint(1, 5))))
        elif kind == 0:
            texts.append(" ".join(_phrase(rng) for _ in range(rng.randint(1, 4))))
        elif kind == 1:
            texts.append("\n".join(_html(rng) for _ in range(rng.randint(1, 5))))
        elif kind == 2:
            texts.append("\n".join(_axtree_line(rng) for _ in range(rng.randint(2, 8))))
        elif kind == 3:
            texts.append(_tool_call_turn(rng))
        elif kind == 4:
            goal = _phrase(rng)
            history = "\n".join(f"Step {i + 1}: {_phrase(rng)}" for i in range(rng.randint(0, 3)))
            texts.append(
                f"The user query: {goal}\nTask progress (You have done the following operation on the current "
                f"device):\n{history}\n"
            )
        else:
            texts.append(json.dumps({"name": "computer_use", "arguments": _tool_arguments(rng)}))
    return texts


# ------------------------------------------------------------------------------------------------ tokenizer

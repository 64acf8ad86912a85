"""The accessibility-tree text: how the browser env renders it, its canonical form and the state key.

One definition, so that what the env calls "the same state" (restore checks, tree search) is what the reward
calls "the same state" (novelty, loops, GiGPO anchors).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from functools import lru_cache
from typing import Any

_BOX = re.compile(r" \[box=(-?[\d.]+),(-?[\d.]+),(-?[\d.]+),(-?[\d.]+)\]")


def render_axtree(snapshot: str, visible_in: tuple[float, float] | None = None) -> str:
    """Turns Playwright's ARIA snapshot (YAML) into compact indented `role "name" [state]: text` lines.

    ARIA snapshots are used rather than CDP `Accessibility.getFullAXTree`: on a 1,400-node page they took
    ~45 ms against ~190 ms (plus a 1.5 MB JSON to parse); on MiniWoB pages both take ~5-12 ms. With
    `visible_in=(width, height)` the snapshot must carry boxes (`aria_snapshot(boxes=True)`) and only nodes
    that intersect the viewport are kept, with their ancestors for structure; nodes without a box (text,
    options) follow their parent.
    """
    entries: list[list[Any]] = []  # [depth, text, visible: bool | None]
    skipping_prop = False
    for raw in snapshot.splitlines():
        stripped = raw.lstrip(" ")
        if not stripped:
            continue
        depth = (len(raw) - len(stripped)) // 2
        if not stripped.startswith("- "):  # continuation of a multi-line scalar
            if entries and not skipping_prop:
                entries[-1][1] += " " + stripped.strip()
            continue
        body = stripped[2:]
        skipping_prop = body.startswith("/")  # /url, /placeholder: properties, not nodes
        if skipping_prop:
            continue
        visible: bool | None = None
        m = _BOX.search(body)
        if m:
            body = _BOX.sub("", body)
            if visible_in is not None:
                x, y, w, h = (float(v) for v in m.groups())
                if w > 0 and h > 0:
                    visible = x < visible_in[0] and y < visible_in[1] and x + w > 0 and y + h > 0
        if body.endswith(":"):
            body = body[:-1]
        entries.append([depth, body, visible])
    if visible_in is None:
        return "\n".join("  " * d + t for d, t, _ in entries)
    # Resolve inherited visibility, then keep visible nodes and their ancestors.
    keep = [False] * len(entries)
    stack: list[tuple[int, int, bool]] = []  # (depth, index, visible)
    for i, (depth, _text, vis) in enumerate(entries):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent_vis = stack[-1][2] if stack else True
        eff = parent_vis if vis is None else vis
        if eff:
            keep[i] = True
            for _, j, _v in stack:
                keep[j] = True
        stack.append((depth, i, eff))
    return "\n".join("  " * e[0] + e[1] for e, k in zip(entries, keep) if k)


_AX_LINE = re.compile(r"^\s*(?:-\s+)?(?:\[[^\]\n]*\]\s+)?(?P<role>[A-Za-z][\w-]*)(?P<rest>.*)$")
_VALUE_ATTR = re.compile(r"(?:^|,\s*|\s+)value=")
_UNQUOTED = re.compile(r"[^,\s]+")
_ARIA_TAIL = re.compile(r"^((?:\s*\[[^\]\n]*\])*)\s*:\s*(.*)$")
# aria-snapshot roles whose `: tail` is the field's value rather than its text content
_VALUE_ROLES = frozenset({"textbox", "combobox", "searchbox", "spinbutton", "slider", "textarea"})
# The head of a canonical line: role, quoted name, quoted value, without the volatile properties after them.
LINE_HEAD = re.compile(r'^[^"\n,\[]*(?:"(?:[^"\\\n]|\\.)*")?(?: value="(?:[^"\\\n]|\\.)*")?')
# Volatile bits the state key ignores: the focus flag and Playwright's per-snapshot element refs.
_VOLATILE = re.compile(r",[ \t]*focused(?=,|$)|[ \t]*\[(?:focused|active|ref=[^\]\n]*)\]", re.MULTILINE)


def _read_quoted(s: str, i: int) -> tuple[str, int] | None:
    """Reads a Python-repr or JSON string literal starting at s[i]; returns its text and the index after it."""
    quote = s[i]
    end = s.find(quote, i + 1)
    if end < 0:
        return None
    if "\\" not in s[i + 1 : end]:  # the common case: no escapes, no literal_eval needed
        return s[i + 1 : end], end + 1
    j = i + 1
    while j < len(s):
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == quote:
            token = s[i : j + 1]
            try:
                text = ast.literal_eval(token)
            except (ValueError, SyntaxError):
                text = token[1:-1]
            return (text if isinstance(text, str) else token[1:-1]), j + 1
        j += 1
    return None


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _canonical_line(line: str) -> str:
    m = _AX_LINE.match(line)
    if m is None:
        return line.strip()
    role, rest = m["role"], m["rest"]
    name: str | None = None
    value: str | None = None
    stripped = rest.lstrip()
    if stripped[:1] in ("'", '"') and rest[:1].isspace():
        got = _read_quoted(stripped, 0)
        if got is not None:
            name, end = got
            rest = stripped[end:]
    tail_m = _ARIA_TAIL.match(rest)
    if tail_m is not None:
        # Playwright aria snapshot: `- textbox "To" [ref=e5]: a@b.c`, `- text: Message sent`, `- list "x":`
        attrs, tail = tail_m.group(1), tail_m.group(2).strip()
        if tail and role.lower() in _VALUE_ROLES:
            value, rest = tail, attrs
        elif tail and name is None:
            name, rest = (tail[1:-1] if len(tail) > 1 and tail[0] == tail[-1] == '"' else tail), attrs
        else:
            rest = attrs if not tail else f"{attrs}: {tail}"
    elif (vm := _VALUE_ATTR.search(rest)) is not None:
        # browsergym: `[100] textbox 'To' value='a@b.c', focused` (numbers unquoted: `value=50`)
        k = vm.end()
        if rest[k : k + 1] in ("'", '"'):
            got = _read_quoted(rest, k)
            if got is not None:
                value, end = got
                rest = rest[: vm.start()] + rest[end:]
        else:
            um = _UNQUOTED.match(rest, k)
            if um is not None:
                value = um.group()
                rest = rest[: vm.start()] + rest[um.end() :]
    out = role if name is None else f"{role} {_q(name.strip())}"
    if value is not None:
        out += f" value={_q(value)}"
    rest = rest.strip()
    if rest:
        out += rest if rest[0] == "," else f" {rest}"
    return out


@lru_cache(maxsize=32)
def canonical_axtree(axtree: str) -> str:
    """Renders any supported AX text as one canonical ``role "name" value="v", props`` line per node.

    The milestone patterns and the state key must not depend on which renderer (browsergym, ``role "name"``,
    Playwright aria snapshot) produced the text, nor on the browsergym ids, which are assigned in page order
    and differ between two visits of the same screen.
    """
    return "\n".join(c for c in (_canonical_line(line) for line in axtree.splitlines()) if c)


def state_key(url: str, axtree: str) -> str:
    """URL plus a digest of the normalised AX tree: equal for two visits of the same screen.

    Normalisation drops element ids and the focus flag: focusing a field is not progress, and clicking the
    same already-focused field again should count as a loop, not as a new state.
    """
    return f"{url or ''}|{_ax_digest(axtree or '')}"


# Text-like nodes whose name is content, not structure: what was typed or printed, a counter, a timestamp.
_TEXT_ROLES = frozenset({"text", "statictext", "paragraph", "inlinetextbox", "labeltext"})
_CANON_VALUE = re.compile(r' value="(?:[^"\\\n]|\\.)*"')
_CANON_HEAD = re.compile(r'^(?P<role>[A-Za-z][\w-]*)(?: "(?:[^"\\\n]|\\.)*")?')


def structure_key(url: str, axtree: str) -> str:
    """URL plus a digest of the AX tree's structure: roles and names of the nodes, without field values and without
    the wording of text nodes.

    The dense reward pays "a new state" on this key: typing a different text into a field, or a page that rewords a
    line on any click, would otherwise be a new state every time, and a policy would learn to farm it.
    """
    return f"{url or ''}|{_structure_digest(axtree or '')}"


@lru_cache(maxsize=32)
def _structure_digest(axtree: str) -> str:
    lines = []
    for line in _VOLATILE.sub("", canonical_axtree(axtree)).splitlines():
        line = _CANON_VALUE.sub("", line)
        head = _CANON_HEAD.match(line)
        if head is not None and head["role"].lower() in _TEXT_ROLES:
            line = head["role"] + line[head.end():]
        lines.append(line)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=32)
def _ax_digest(axtree: str) -> str:
    text = _VOLATILE.sub("", canonical_axtree(axtree))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

"""The agent's hands on one page: a `computer_use` action executed with Playwright's mouse and keyboard.

Action pixels refer to the screenshot the model saw; they are mapped back to CSS pixels here (tiny pages are
screenshotted at a device scale factor > 1, see `tasks.Viewport`). Qwen3-VL writes xdotool/pyautogui key names
("ctrl", "Return", "pagedown"); Playwright wants KeyboardEvent names ("Control", "Enter", "PageDown").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from halo_cli.core.actions import (
    Action,
    Answer,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
)
from halo_cli.core.env.faults import first_line, is_playwright_error
from halo_cli.core.env.tasks import Viewport

if TYPE_CHECKING:
    from playwright.async_api import Page, Request

_DRAG_STEPS = 8
# One animation frame: a wheel scroll lands asynchronously, after the event returns.
_NEXT_FRAME_JS = "() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))"

_KEY_ALIASES: dict[str, str] = {
    "ctrl": "Control", "control": "Control", "lctrl": "Control", "rctrl": "Control", "ctrlleft": "Control",
    "ctrlright": "Control", "control_l": "Control", "control_r": "Control",
    "shift": "Shift", "lshift": "Shift", "rshift": "Shift", "shiftleft": "Shift", "shiftright": "Shift",
    "shift_l": "Shift", "shift_r": "Shift",
    "alt": "Alt", "lalt": "Alt", "ralt": "Alt", "altleft": "Alt", "altright": "Alt", "alt_l": "Alt",
    "alt_r": "Alt", "option": "Alt", "opt": "Alt",
    "cmd": "Meta", "command": "Meta", "meta": "Meta", "super": "Meta", "win": "Meta", "windows": "Meta",
    "winleft": "Meta", "winright": "Meta", "super_l": "Meta", "super_r": "Meta",
    "enter": "Enter", "return": "Enter", "kp_enter": "Enter", "esc": "Escape", "escape": "Escape",
    "backspace": "Backspace", "back_space": "Backspace", "bksp": "Backspace",
    "tab": "Tab", "space": "Space", "spacebar": "Space", "delete": "Delete", "del": "Delete",
    "insert": "Insert", "ins": "Insert", "home": "Home", "end": "End",
    "pageup": "PageUp", "page_up": "PageUp", "pgup": "PageUp", "prior": "PageUp",
    "pagedown": "PageDown", "page_down": "PageDown", "pgdn": "PageDown", "next": "PageDown",
    "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
    "arrowup": "ArrowUp", "arrowdown": "ArrowDown", "arrowleft": "ArrowLeft", "arrowright": "ArrowRight",
    "capslock": "CapsLock", "caps_lock": "CapsLock", "numlock": "NumLock", "scrolllock": "ScrollLock",
    "pause": "Pause", "printscreen": "PrintScreen", "print": "PrintScreen", "contextmenu": "ContextMenu",
    "menu": "ContextMenu", "apps": "ContextMenu", "plus": "+", "minus": "-", "comma": ",", "period": ".",
    "slash": "/", "backslash": "\\", "semicolon": ";", "apostrophe": "'", "quote": "'", "grave": "`",
    "backquote": "`", "equal": "=", "equals": "=", "bracketleft": "[", "bracketright": "]",
}
_F_KEY = re.compile(r"^f([1-9]|1[0-9]|2[0-4])$")


def playwright_key(name: str) -> str:
    """Maps one xdotool/pyautogui key name to Playwright's; raises ValueError for a name it cannot map."""
    if len(name) == 1:
        return name
    low = name.strip().lower()
    if low in _KEY_ALIASES:
        return _KEY_ALIASES[low]
    if _F_KEY.match(low):
        return low.upper()
    if re.fullmatch(r"(key[a-z]|digit[0-9])", low):  # KeyboardEvent.code names Playwright also accepts
        return low[:-1].capitalize() + low[-1].upper() if low.startswith("key") else "Digit" + low[-1]
    raise ValueError(f"unknown key name {name!r}")


class PageActions:
    """Executes actions on one page and keeps the mouse position (a drag or a scroll without a point starts there).

    `is_dead` says whether the page or its browser is gone: a Playwright error on a live page (an unknown key, a
    navigation racing the action) is part of the action's result, on a dead one it is a fault for the caller.
    """

    def __init__(self, page: "Page", viewport: Viewport, is_dead: Callable[[], bool]) -> None:
        self.page = page
        self.viewport = viewport
        self.is_dead = is_dead
        self.mouse = (viewport.width / 2, viewport.height / 2)
        self._nav_pending = False
        self._handlers: dict[type[Action], Callable[[Action], Awaitable[tuple[str | None, bool]]]] = {
            **{cls: self._click for cls in (LeftClick, RightClick, MiddleClick, DoubleClick, TripleClick)},
            MouseMove: self._move,
            LeftClickDrag: self._drag,
            Scroll: self._scroll,
            HScroll: self._scroll,
            Type: self._type,
            Key: self._key,
            **{cls: self._nothing for cls in (Wait, Terminate, Answer)},
        }

    def on_request(self, request: "Request") -> None:
        """Page listener: a navigation of the main frame started, so `perform` waits for its load."""
        try:
            if request.is_navigation_request() and request.frame == self.page.main_frame:
                self._nav_pending = True
        except Exception:  # noqa: BLE001 - requests of service workers have no frame
            pass

    async def perform(self, action: Action) -> str | None:
        """Executes one action in CSS pixels; returns an error text for an action it cannot do."""
        error, settle = await self._handlers[type(action)](action)
        if error is not None:
            return error
        page = self.page
        try:
            # One round trip (or one frame after wheel/drag/move): the page's handlers ran, a scroll landed,
            # and a navigation they started has been announced.
            await page.evaluate(_NEXT_FRAME_JS if settle else "0")
        except Exception as e:  # noqa: BLE001 - "execution context destroyed": the action navigated
            if not is_playwright_error(e) or self.is_dead():
                raise
        if self._nav_pending:
            self._nav_pending = False
            try:
                await page.wait_for_load_state("load")
            except Exception as e:  # noqa: BLE001 - a navigation superseded by another is not a fault
                if not is_playwright_error(e) or self.is_dead():
                    raise
        return None

    # Each handler returns (error text or None, whether to wait a frame for the page to settle).
    async def _click(self, action: Action) -> tuple[str | None, bool]:
        x, y = self._css(action.to_pixels(), action)
        mouse = self.page.mouse
        if isinstance(action, DoubleClick):
            await mouse.dblclick(x, y)
        elif isinstance(action, TripleClick):
            await mouse.click(x, y, click_count=3)
        else:
            button = {LeftClick: "left", RightClick: "right", MiddleClick: "middle"}[type(action)]
            await mouse.click(x, y, button=button)  # type: ignore[arg-type]
        self.mouse = (x, y)
        return None, False

    async def _move(self, action: Action) -> tuple[str | None, bool]:
        self.mouse = self._css(action.to_pixels(), action)
        await self.page.mouse.move(*self.mouse)
        return None, True

    async def _drag(self, action: Action) -> tuple[str | None, bool]:
        assert isinstance(action, LeftClickDrag)
        start_px = action.start_px()
        sx, sy = self._css(start_px, action) if start_px is not None else self.mouse
        ex, ey = self._css(action.to_pixels(), action)
        mouse = self.page.mouse
        await mouse.move(sx, sy)
        await mouse.down()
        await mouse.move(ex, ey, steps=_DRAG_STEPS)
        await mouse.up()
        self.mouse = (ex, ey)
        return None, True

    async def _scroll(self, action: Action) -> tuple[str | None, bool]:
        assert isinstance(action, Scroll)  # HScroll is a Scroll
        point = action.to_pixels()
        x, y = self._css(point, action) if point is not None else self.mouse
        scale = self._scale(action)
        horizontal = isinstance(action, HScroll)
        amount = float(action.pixels) * scale[0 if horizontal else 1]
        await self.page.mouse.move(x, y)
        if horizontal:
            await self.page.mouse.wheel(amount, 0)  # positive = right (pyautogui hscroll)
        else:
            await self.page.mouse.wheel(0, -amount)  # positive = up (Qwen's tool description)
        self.mouse = (x, y)
        return None, True

    async def _type(self, action: Action) -> tuple[str | None, bool]:
        assert isinstance(action, Type)
        await self.page.keyboard.type(action.text)
        return None, False

    async def _key(self, action: Action) -> tuple[str | None, bool]:
        assert isinstance(action, Key)
        try:
            names = [playwright_key(k) for k in action.keys]
        except ValueError as e:
            return str(e), False
        keyboard = self.page.keyboard
        pressed: list[str] = []
        try:
            for name in names:
                await keyboard.down(name)
                pressed.append(name)
        except Exception as e:  # noqa: BLE001
            if not is_playwright_error(e) or self.is_dead():
                raise
            return f"key {name!r}: {first_line(e)}", False
        finally:
            for name in reversed(pressed):
                await keyboard.up(name)
        return None, False

    async def _nothing(self, action: Action) -> tuple[str | None, bool]:
        return None, False  # wait, terminate, answer: nothing to do on the page

    def _scale(self, action: Action) -> tuple[float, float]:
        """CSS pixels per action pixel: the action's pixels refer to the screenshot it was parsed for."""
        return (self.viewport.width / action.width, self.viewport.height / action.height)

    def _css(self, px: tuple[int, int] | None, action: Action) -> tuple[float, float]:
        assert px is not None
        sx, sy = self._scale(action)
        return (px[0] * sx, px[1] * sy)

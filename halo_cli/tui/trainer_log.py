"""What the trainer prints (run id, iteration lines, server start-up), shown under the dashboard of
`halo train grpo --tui`; lines arrive as messages posted from the trainer's thread, which never waits for them."""

from __future__ import annotations

import io
import sys

from textual.message import Message
from textual.message_pump import MessagePump
from textual.widgets import Log


class TrainerOutput(Message):
    """Text the trainer wrote."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class MessageFile(io.TextIOBase):
    """A write-only text file that posts what is written to `target` (the app) as TrainerOutput: `post_message` is
    thread-safe and returns at once, so the writer never waits for the UI. Once the widget is gone (the dashboard
    was closed while the trainer winds down), text goes to the terminal's stderr instead."""

    def __init__(self, target: MessagePump) -> None:
        super().__init__()
        self.target = target

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text and not self.target.post_message(TrainerOutput(text)):
            sys.__stderr__.write(text)
        return len(text)


class TrainerLog(Log):
    DEFAULT_CSS = """
    TrainerLog { height: 7; border: round $primary-darken-1; }
    """

    def on_mount(self) -> None:
        self.border_title = "trainer"

"""The one synthetic inbox page the learner and sampling benches share, so their numbers are for the same prompt."""

from __future__ import annotations

import io

GOAL = "Open the first unread email from Alice and reply that the meeting moved to Friday."


def screenshot(width: int = 1280, height: int = 720) -> bytes:
    """A structured 1280x720 page (header, list rows, a button), like tests/conftest.screenshot_png."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (245, 245, 245))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, width, 63), fill=(40, 60, 140))
    for i in range(8):
        d.rectangle((200, 90 + 70 * i, width - 40, 150 + 70 * i), fill=(255, 255, 255), outline=(200, 200, 200))
        d.text((220, 110 + 70 * i), f"Message {i} from Alice about the meeting", fill=(20, 20, 20))
    d.rectangle((900, 600, 1200, 660), fill=(30, 120, 220))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()

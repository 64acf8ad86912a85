"""Renders the README's pictures of the views from a run store: the dashboard, the replay and the HTML report.

Usage (repo root, learner venv), after a run such as the README's first command:

    .venv/bin/python scripts/docs_screenshots.py [--db runs/halo.db] [--run RUN] [--out docs]

The two Textual apps are drawn headless at 180x50 cells by Textual's Pilot (screenshots in half blocks, as in a
terminal without graphics) and exported as SVG; headless Chromium turns the SVGs and the report into PNGs.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from halo_cli.core.config import load_settings  # noqa: E402
from halo_cli.core.store import RunStore  # noqa: E402
from halo_cli.tui.replay import ReplayApp, RunScreen  # noqa: E402
from halo_cli.tui.report import write_report  # noqa: E402
from halo_cli.tui.watch import WatchApp  # noqa: E402

SIZE = (180, 50)


async def dashboard_svg(db: Path, run_id: str) -> str:
    app = WatchApp(db, run_id, graphics="blocks")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        return app.export_screenshot(title="halo watch")


async def replay_svg(db: Path, run_id: str, keys: list[str]) -> str:
    with RunStore(db, create=False) as store:
        app = ReplayApp(store, run_id, graphics="blocks")
        async with app.run_test(size=SIZE) as pilot:
            while not isinstance(app.screen, RunScreen):
                await pilot.pause(0.05)
            await pilot.press(*keys)
            await pilot.pause(0.5)
            await pilot.pause(0.5)
            return app.export_screenshot(title="halo replay")


async def to_png(pages: list[tuple[Path, Path, tuple[int, int] | None]]) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=load_settings().browser.executable,
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            for src, dst, size in pages:
                if size is None:  # an SVG: its own size
                    m = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', src.read_text())
                    assert m, src
                    size = (int(float(m.group(1))), int(float(m.group(2))))
                page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
                await page.goto(src.as_uri())
                await page.screenshot(path=str(dst))
                await page.close()
        finally:
            await browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--run", default=None, help="run id or prefix (default: the newest run)")
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    ap.add_argument("--keys", default="n,n,right", help="keys pressed in the replay before the picture")
    args = ap.parse_args()
    db = args.db or load_settings().store.path
    with RunStore(db, create=False) as store:
        run_id = store.resolve_run_id(args.run) if args.run else store.list_runs()[0].id
        args.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            (t / "dashboard.svg").write_text(asyncio.run(dashboard_svg(db, run_id)))
            (t / "replay.svg").write_text(asyncio.run(replay_svg(db, run_id, [k for k in args.keys.split(",") if k])))
            write_report(store, run_id, t / "report.html", limit=3)
            asyncio.run(to_png([(t / "dashboard.svg", args.out / "dashboard.png", None),
                                (t / "replay.svg", args.out / "replay.png", None),
                                (t / "report.html", args.out / "report.png", (1300, 2000))]))
    for name in ("dashboard", "replay", "report"):
        print(args.out / f"{name}.png")


if __name__ == "__main__":
    main()

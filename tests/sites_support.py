"""Shared parts of the local-sites tests: the local profile's browser clock and time zone, and grading in a
private temporary directory.

Why private: agisdk writes each `/finish` state to a temp file and eval_omnizon_28 reads every *.json/*.txt
next to it. `real.grade_state` uses the shared `$TMPDIR` today, so gradings that overlap (or a stray file)
change each other's grade; `tests/test_sites_omnizon.py::test_omnizon_28_is_graded_in_its_own_temp_dir`
shows it. Until grade_state isolates itself, these tests grade one at a time, each in a fresh empty directory.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

from halo_cli.core.config import BrowserSettings, local_profile
from halo_cli.core.env.real import FinishStateError, Judge, RealSource, grade_state
from halo_cli.core.env.tasks import Outcome, Task


def local_browser_settings() -> BrowserSettings:
    """The `local` profile's browser: REAL's 2024-07-18 09:00 on a fixed clock, Pacific time."""
    return BrowserSettings(**local_profile()["browser"])


_GRADE_LOCK = threading.Lock()


def grade_privately(task: Task, state: Mapping[str, Any], answer: str | None, judge: Judge | None = None) -> Outcome:
    """`real.grade_state`, with agisdk's temp file alone in a fresh directory."""
    with _GRADE_LOCK:
        saved = tempfile.tempdir
        with tempfile.TemporaryDirectory(prefix="halo-grade-") as private:
            tempfile.tempdir = private
            try:
                return grade_state(task, state, answer, judge)
            finally:
                tempfile.tempdir = saved


class PrivateGradingSource(RealSource):
    """RealSource whose `grade` (what `terminate` and `Episode.finish` call) grades with `grade_privately`."""

    async def grade(self, page: Any, task: Task, answer: str | None) -> Outcome:
        try:
            state = await self.finish_state(page, task)
        except FinishStateError as e:
            return Outcome(reward=0.0, success=False, status="aborted",
                           details={"reason": str(e), "task_id": task.id, "answer": answer})
        return await asyncio.to_thread(grade_privately, task, state, answer, self.judge)

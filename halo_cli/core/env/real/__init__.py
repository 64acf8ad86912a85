"""REAL benchmark tasks (agisdk 0.3.5): the catalogue, where the sites are, the judge, grading, the task source.

Tasks and graders come from agisdk itself (its task JSONs, its `WebCloneEvaluator` with its v2 eval scripts and
v1 jmespath queries), so a reward here means what it means on the REAL leaderboard. `catalog` builds the tasks,
`sites` maps each site to a URL, `judge` routes v1 rubric checks to an OpenAI-compatible endpoint, `grading`
grades a `/finish` state, and `source` is the `TaskSource` BrowserEnv drives.
"""

from halo_cli.core.env.real.catalog import (
    REAL_VERSIONS,
    SOURCE_NAME,
    known_sites,
    load_tasks,
)
from halo_cli.core.env.real.grading import (
    FinishStateError,
    grade_state,
    parse_finish_text,
)
from halo_cli.core.env.real.judge import Judge, OpenAIJudge, judge_from_settings
from halo_cli.core.env.real.sites import SiteMap, normalize_base_url, parse_sites
from halo_cli.core.env.real.source import RUN_ID, RealSource, SiteUnreachableError

__all__ = [
    "REAL_VERSIONS", "RUN_ID", "SOURCE_NAME", "FinishStateError", "Judge", "OpenAIJudge", "RealSource", "SiteMap",
    "SiteUnreachableError", "grade_state", "judge_from_settings", "known_sites", "load_tasks", "normalize_base_url",
    "parse_finish_text", "parse_sites",
]

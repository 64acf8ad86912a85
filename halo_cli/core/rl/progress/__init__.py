"""The dense reward: `DenseRewardCalculator` (calculator.py), its generic terms (terms.py), the milestone language
(milestones.py), the built-in milestone tables as data (milestones.toml) and a user's overrides (tables.py).
"""

from halo_cli.core.rl.progress.calculator import DenseRewardCalculator, TaskInfo
from halo_cli.core.rl.progress.milestones import (
    ActionPattern,
    Condition,
    FinishCheck,
    Milestone,
    MilestoneTable,
    ObservationLike,
    detect,
    milestone_applies,
    presatisfied,
    resolve_path,
)
from halo_cli.core.rl.progress.tables import (
    apply_weights,
    build_tables,
    default_table_data,
    default_tables,
    load_override_file,
    merge_tables,
)
from halo_cli.core.rl.progress.terms import (
    action_fingerprint,
    is_loop,
    loop_term,
    novelty_term,
    sum_components,
    valid_action_term,
)

__all__ = [
    "ActionPattern", "Condition", "DenseRewardCalculator", "FinishCheck", "Milestone", "MilestoneTable",
    "ObservationLike", "TaskInfo", "action_fingerprint", "apply_weights", "build_tables", "default_table_data",
    "default_tables", "detect", "is_loop", "load_override_file", "loop_term", "merge_tables", "milestone_applies",
    "novelty_term", "presatisfied", "resolve_path", "sum_components", "valid_action_term",
]

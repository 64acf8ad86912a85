"""Local REAL-compatible sites: offline replicas of REAL's GoMail, GoCalendar, Omnizon and Zilloft that honour
the hosted sites' contract (`/config` resets a task, `/finish` shows the state agisdk's graders read), so REAL
tasks train, evaluate and test without the network.

- `manifest`: the sites, which are built, and which REAL tasks they serve (and why others are left out);
- `server`: `LocalSites`, one loopback port (one origin) per site, all from one object;
- `experts`: expert solutions and near misses per task, run as the agent acts (computer_use actions);
- `kit/`: the front-end code every site shares (store, router, /config, /finish, the diffs);
- `<site>/web/`: a site's app and seeded data; `<site>/experts.json`: its expert scripts.
"""

from halo_cli.core.env.sites.manifest import SITES, SiteSpec, TaskSupport, built_sites, supported_task_ids, task_manifest
from halo_cli.core.env.sites.server import LocalSites

__all__ = ["SITES", "LocalSites", "SiteSpec", "TaskSupport", "built_sites", "supported_task_ids", "task_manifest"]

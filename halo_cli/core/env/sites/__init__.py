"""Local REAL-compatible sites: offline replicas of REAL's GoMail, GoCalendar, Omnizon and Zilloft that honour
the hosted sites' contract (`/config` resets a task, `/finish` shows the state agisdk's graders read), so REAL
tasks train, evaluate and test without the network.

- `manifest`: the sites, which are built, and which REAL tasks they serve (and why others are left out);
- `server`: `LocalSites`, one loopback port (one origin, so one localStorage) per site, all from one object;
- `experts`: expert solutions and near misses per task, played as the agent acts (computer_use actions);
- `kit/`: the front end every site shares: a store persisted in the browser with REAL's action history, the
  router slice, `/config`, `/finish`, detailedDiff and the id-matched `differences` (no build step: ES modules,
  Preact + htm vendored);
- `<site>/web/`: a site's app, styles and seeded data; `<site>/experts.json`: its expert scripts.

Adding a site (say zilloft):
1. `zilloft/web/index.html` (copy omnizon's), `state.js` with `initialState(taskId)` and the slice reducers
   shaped as the site's graders read them, `app.js` with the pages, calling the kit's `bootSite({app, title,
   slices, initialState, collections, coalesce, App})`; `collections` declares `differences` (e.g.
   `requestTours: {get: s => s.tourRequests.requestTourList, key: 'id', layout: 'dict'}`).
2. Its seeded data as a JSON file in `web/` (imported by the app; it never enters the state).
3. `zilloft/experts.json`: an expert and at least one near miss per task; then `built=True` in
   `manifest.SITES`. The tests in tests/test_sites_omnizon.py show how to prove them with agisdk's graders.
"""

from halo_cli.core.env.sites.manifest import (
    SITES,
    SiteSpec,
    TaskSupport,
    built_sites,
    supported_task_ids,
    task_manifest,
)
from halo_cli.core.env.sites.server import LocalSites

__all__ = ["SITES", "LocalSites", "SiteSpec", "TaskSupport", "built_sites", "supported_task_ids", "task_manifest"]

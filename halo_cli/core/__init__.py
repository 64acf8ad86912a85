"""The engine of halo, in layers that import downward only: the action space (actions/), errors, paths and
termination.py (SIGTERM and SIGHUP as Ctrl-C) at the bottom, typed settings (config.py) above, then the environment
(env/), the policy (policy/), models (models/) and the run store (store/), then learning (rl/), and what a run
stands on (runtime.py). Never imports commands or tui.
"""

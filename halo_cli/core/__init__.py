"""The engine of halo: policy, environment, learning and the run store. Never imports commands or tui."""

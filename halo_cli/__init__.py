"""halo: online RL for a Qwen3-VL browser agent."""

__version__ = "0.1.0"

"""Model artefacts halo builds itself (the tiny offline Qwen3-VL)."""

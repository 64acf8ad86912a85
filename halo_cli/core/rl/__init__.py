"""Learning: dense rewards, the LoRA learner, online GRPO and tree search."""

"""Learning: the dense reward (progress/), rollouts (rollout.py), group advantages (advantages.py), the loss
(loss.py), the LoRA learner (learner.py, lora.py, groups.py), online GRPO (online_grpo.py), evaluation
(evaluate.py) and small statistics (stats.py).
"""

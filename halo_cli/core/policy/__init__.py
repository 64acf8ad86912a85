"""What the model sees and says, and where it runs: prompts (prompts.py), constrained decoding of tool calls
(constrained.py), the vLLM client that samples actions (vllm_client.py), the vLLM server process (server.py) and
the watchdog that takes it down when its starter dies (watchdog.py).
The action space itself is `core.actions`.
"""

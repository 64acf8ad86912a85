"""What the model sees and says, and where it runs: prompts (prompts.py), constrained decoding of tool calls
(constrained.py), the vLLM client that samples actions (vllm_client.py) and the vLLM server process (server.py).
The action space itself is `core.actions`.
"""

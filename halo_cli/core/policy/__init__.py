"""What the model sees and says: actions, prompts, the vLLM client and server."""

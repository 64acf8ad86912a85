"""The world the agent acts in: the browser, task sources, local sites."""

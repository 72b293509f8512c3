"""Planning: the dissemination policy, whom a warning reaches on which channel, and the preview of it."""

"""Use cases. They receive configuration and ports as arguments; they never see events or the environment."""

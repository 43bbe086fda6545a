"""The home page: who you are, what the twin holds, where to go next."""

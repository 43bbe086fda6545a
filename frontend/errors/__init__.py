"""Error pages that say what happened and what to do next, for the whole app."""

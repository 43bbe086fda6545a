"""Errors of the FDB bridge; each says what was wrong and that nothing was written."""

from __future__ import annotations

from collections.abc import Sequence


class FdbError(Exception):
    """Any failure of the FDB bridge."""


class InvalidRun(FdbError, ValueError):
    """A model run that cannot be exported; raised before anything is written."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"- {problem}" for problem in self.problems)
        super().__init__(f"The run cannot be exported to FDB (nothing was written):\n{listed}")


class RegistryError(FdbError):
    """A code registry that is invalid (colliding or malformed codes) or exhausted."""


class RunNotFound(FdbError, LookupError):
    """The FDB holds no field of the requested run."""


class FdbRequestError(FdbError):
    """FDB or metkit refused a request (the message is the library's)."""

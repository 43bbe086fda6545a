"""Work a backend does in the background every so often, each in a daemon thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Periodic:
    """Calls `work` now and then every `interval_seconds` until `stop()`; again at once
    while it returns True (more is waiting). A call that fails is logged and the next one
    comes at the next interval: the database may be unreachable for a moment."""

    def __init__(self, name: str, work: Callable[[], bool], *, interval_seconds: float) -> None:
        self.name = name
        self.work = work
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.work():
                    continue
            except Exception:
                logger.exception(
                    "%s failed; trying again in %s s", self.name, self.interval_seconds
                )
            self._stop.wait(self.interval_seconds)

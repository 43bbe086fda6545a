"""The webhook deliverer: threads in each backend process that send subscriptions their
events, in order, at least once.

Each worker loops: claim one subscription with something to deliver (`FOR UPDATE SKIP
LOCKED`, see `subscriptions.claim_due`), read the events after its cursor that match its
query, POST them one by one in id order, and, in the claim's own transaction, advance the
cursor past the ones the receiver took (2xx) and log every attempt; then commit. The
first failure (another status, a timeout, a transport error) ends the batch: the cursor
stays before that event, which is tried again after a backoff, and too many failures in a
row disable the subscription.

Guarantees: the cursor moves only when the receiver answered 2xx and the transaction
commits, so every matching event is delivered at least once, in order; a backend killed
in the middle of a batch leaves its transaction uncommitted, and the batch is sent again.
While a subscription is claimed no other deliverer (thread, process, replica) can claim
it, so in the normal case each event reaches each subscription once.

Wake-ups: a worker with nothing to do waits for a notification (the process's `LISTEN
dtbase_events`, see `listen`), until the next retry is due, or IDLE_SECONDS at most.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.events import store as events_store
from dtbase.backend.events import subscriptions
from dtbase.backend.events.listen import Notifications
from dtbase.backend.events.subscriptions import Attempt, Backoff
from dtbase.backend.events.subscriptions_tables import EventSubscription
from dtbase.backend.events.webhooks import request_of
from dtbase.backend.services.allowlist import Allowlist, UrlNotAllowed
from dtbase.backend.services.caller import CallPolicy, PinnedClients, send_pinned
from dtbase.backend.services.masking import mask_url
from dtbase.core.settings import BackendSettings
from dtbase.schemas.common import utc_now
from dtbase.schemas.events import EventOut, EventQuery

logger = logging.getLogger(__name__)

# Events read per claim; a batch also ends after BATCH_SECONDS of sending, so that a
# claim (a row lock and a connection) is held at most that plus one timeout.
BATCH_EVENTS = 100
BATCH_SECONDS = 2.0
# A worker with nothing to do looks again at least this often (and stops this quickly).
IDLE_SECONDS = 1.0
# What is read of a receiver's answer: its status matters, its body does not.
REPLY_MAX_BYTES = 64 * 1024
UNREACHABLE = "The receiver could not be reached."


@dataclass(frozen=True)
class DeliveryPolicy:
    """What every delivery obeys (from the backend's settings)."""

    call: CallPolicy
    source: str
    retry: Backoff
    max_failures: int

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> DeliveryPolicy:
        allowlist = settings.webhook_url_allowlist
        if allowlist is None:
            allowlist = settings.service_url_allowlist
        return cls(
            call=CallPolicy(
                allowlist=Allowlist.parse(
                    allowlist, what="Webhooks", setting="DT_WEBHOOK_URL_ALLOWLIST"
                ),
                timeout_seconds=settings.webhook_timeout_seconds,
                reply_max_bytes=REPLY_MAX_BYTES,
            ),
            source=settings.webhook_source,
            retry=Backoff(settings.webhook_retry_seconds, settings.webhook_retry_max_seconds),
            max_failures=settings.webhook_max_failures,
        )


class Deliverer:
    """`workers` threads delivering webhooks between `start()` and `stop()`."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        policy: DeliveryPolicy,
        *,
        wakeups: Notifications,
        workers: int = 2,
    ) -> None:
        self.session_factory = session_factory
        self.policy = policy
        self.wakeups = wakeups
        self.workers = workers
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._work, name=f"dtbase-webhooks-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop after the batches under way (at most BATCH_SECONDS and a timeout)."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def _work(self) -> None:
        # One event loop per worker, for its calls (the allow-list's checks are async),
        # and its connections to receivers, kept open from one delivery to the next.
        with asyncio.Runner() as runner:
            clients = PinnedClients(self.policy.call)
            try:
                while not self._stop.is_set():
                    seen = self.wakeups.count
                    try:
                        if self.deliver_one(runner, clients):
                            continue
                        wait = self._idle_wait()
                    except Exception:
                        logger.exception("Delivering webhooks failed; trying again in a moment")
                        wait = IDLE_SECONDS
                    self.wakeups.wait(wait, after=seen)
            finally:
                runner.run(clients.aclose())

    def _idle_wait(self) -> float:
        """Until the next retry is due, or IDLE_SECONDS at most."""
        now = utc_now()
        with self.session_factory() as session:
            due = subscriptions.next_due(session, now=now)
        if due is None:
            return IDLE_SECONDS
        return max(0.0, min(IDLE_SECONDS, (due - now).total_seconds()))

    def deliver_one(self, runner: asyncio.Runner, clients: PinnedClients | None = None) -> bool:
        """Claim one subscription and deliver a batch; False when none had anything due.
        `clients`: connections kept open (in `runner`'s loop); none: one per request."""
        with self.session_factory.begin() as session:
            subscription = subscriptions.claim_due(session, now=utc_now())
            if subscription is None:
                return False
            self._deliver(session, subscription, runner, clients)
            subscriptions.prune_log(session, subscription)
        return True

    def _deliver(
        self,
        session: Session,
        subscription: EventSubscription,
        runner: asyncio.Runner,
        clients: PinnedClients | None,
    ) -> None:
        # Last in line for the next claim: a busy subscription does not starve the others.
        subscription.next_attempt_at = utc_now()
        # Read the bound first: every event up to it is visible (ids follow commit order).
        bound = events_store.newest_id(session)
        skipped = subscriptions.skip_pruned(session, subscription, now=utc_now())
        if skipped is not None:
            logger.warning("Subscription %r: %s", subscription.name, skipped.warning)
        query = EventQuery.model_validate(subscription.query)
        read = events_store.events_after(
            session, query, after=subscription.last_event_id, limit=BATCH_EVENTS
        )
        # Whether every match up to `bound` was read: then the cursor may skip the others.
        complete = len(read) < BATCH_EVENTS or read[-1].id >= bound
        started = time.monotonic()
        for event in (event for event in read if event.id <= bound):
            if time.monotonic() - started > BATCH_SECONDS or self._stop.is_set():
                return
            attempt = runner.run(self._send(subscription, event, clients))
            subscriptions.log(session, subscription, attempt)
            if not attempt.succeeded:
                subscriptions.failed(
                    subscription,
                    attempt,
                    retry=self.policy.retry,
                    max_failures=self.policy.max_failures,
                )
                return
            subscriptions.delivered(subscription, attempt)
        if complete:
            subscription.last_event_id = bound

    async def _send(
        self, subscription: EventSubscription, event: EventOut, clients: PinnedClients | None
    ) -> Attempt:
        now = utc_now()
        headers, body = request_of(
            event,
            source=self.policy.source,
            subscription_id=subscription.id,
            secret=subscription.secret,
            now=now,
        )
        return await post(subscription.url, headers, body, self.policy.call, event.id, now, clients)


async def post(
    url: str,
    headers: dict[str, str],
    body: bytes,
    policy: CallPolicy,
    event_id: int,
    now: datetime,
    clients: PinnedClients | None = None,
) -> Attempt:
    """POST one event to the checked address of `url`; never raises for network errors.

    Every connection failure reads the same in the log ("could not be reached"), as
    service calls do: an admin's URL must not become a port scanner; the cause is logged
    on the server only.
    """
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            target = await policy.allowlist.target(url)
            http = None if clients is None else clients.of(target)
            status_code, _ = await send_pinned(
                target, "POST", policy, headers=headers, http=http, content=body
            )
    except UrlNotAllowed as refusal:
        error = str(refusal)
    except TimeoutError:
        error = f"The receiver did not answer within {policy.timeout_seconds:g} seconds."
    except (OSError, httpx.HTTPError, httpx.InvalidURL) as cause:
        logger.warning("Webhook to %s failed: %s: %s", mask_url(url), type(cause).__name__, cause)
        error = UNREACHABLE
    return Attempt(
        event_id=event_id,
        time=now,
        status_code=status_code,
        error=error,
        duration_seconds=time.perf_counter() - started,
    )

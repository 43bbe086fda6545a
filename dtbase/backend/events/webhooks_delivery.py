"""The webhook deliverer: threads in each backend process that send subscriptions their
events, in order, at least once.

Each worker works in rounds. A round claims every subscription with something due, up to
ROUND_SUBSCRIPTIONS (`FOR UPDATE SKIP LOCKED`, see `subscriptions.claim_round`), reads
each one's events after its cursor (one statement for all), keeps those matching its
query (`query.matches`, as the live streams do), and POSTs them: the subscriptions
concurrently, each one's events one by one in id order, stopping at its first failure
(another status, a timeout, a transport error). Then, in the claim's own transaction, it
logs every attempt, moves each cursor past the events its receiver took and those that
did not match, and saves each subscription's state (one statement); then commits.
A failure leaves the cursor before the event, which is tried again after a backoff; too
many failures in a row disable the subscription.

Isolation: a subscription in failure is claimed alone, one per round (its retry, when
due, comes before the healthy ones). A receiver that hangs holds up the round it is in
until the timeout, once: from its first failure on, its retries are rounds of their
own, which hold up only the worker that runs them.

Guarantees: the cursor moves only when the receiver answered 2xx and the transaction
commits, so every matching event is delivered at least once, in order; a backend killed
in the middle of a round leaves its transaction uncommitted, and the round is sent
again. While a subscription is claimed no other deliverer (thread, process, replica) can
claim it, so in the normal case each event reaches each subscription once.

Wake-ups: a worker with nothing to do waits for a notification (the process's `LISTEN
dtbase_events`, see `listen`), until the next retry is due, or IDLE_SECONDS at most.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import h11
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.events import subscriptions
from dtbase.backend.events.listen import Notifications
from dtbase.backend.events.query import matches
from dtbase.backend.events.subscriptions import Attempt, Backoff, Claimed, Logged, Round, State
from dtbase.backend.events.webhooks import body_of, signed
from dtbase.backend.events.webhooks_http import Connections
from dtbase.backend.services.allowlist import Allowlist, Target, UrlNotAllowed
from dtbase.backend.services.caller import CallPolicy
from dtbase.backend.services.masking import mask_url
from dtbase.core.settings import BackendSettings
from dtbase.schemas.common import utc_now
from dtbase.schemas.events import EventOut

logger = logging.getLogger(__name__)

# Subscriptions claimed by one round at most.
ROUND_SUBSCRIPTIONS = 64
# Events read per subscription and round, matching or not; a round also ends after
# BATCH_SECONDS of sending, so that its claims (row locks and a connection) are held at
# most that plus one timeout.
BATCH_EVENTS = 100
BATCH_SECONDS = 2.0
# A worker prunes the delivery log of the subscriptions it delivered to (the newest
# DELIVERY_LOG_KEPT of each are kept) after this many rounds, or this many seconds.
LOG_PRUNE_ROUNDS = 100
LOG_PRUNE_SECONDS = 5.0
# A worker with nothing to do looks again at least this often (and stops this quickly).
IDLE_SECONDS = 1.0
# After a wake-up, the wait for more commits to deliver in the same round: a round's
# claim, log and states cost the same for one event as for several, and ingest commits
# every few milliseconds under load (docs/events.md, "What delivery costs").
GATHER_SECONDS = 0.05
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
        # Held by the worker waiting for wake-ups; the count of the last one taken.
        self._watch = threading.Lock()
        self._consumed = 0

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
        """Stop after the rounds under way (at most BATCH_SECONDS and a timeout)."""
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
            connections = Connections(self.policy.call.tls, self.policy.call.reply_max_bytes)
            pruning = LogPruning(self.session_factory)
            try:
                while not self._stop.is_set():
                    seen = self.wakeups.count
                    try:
                        outcome = self.deliver_round(runner, connections)
                        pruning.after_round(outcome.claimed)
                    except Exception:
                        logger.exception("Delivering webhooks failed; trying again in a moment")
                        self._stop.wait(IDLE_SECONDS)
                        continue
                    if outcome.more:
                        continue
                    # Events committed since the claim may be for its subscriptions
                    # (their wake-up may have gone to another worker, which found them
                    # locked): then no wait for another.
                    if self.wakeups.count == seen:
                        self._wait(outcome.wait_seconds(utc_now()), seen)
                    self._stop.wait(GATHER_SECONDS)
            finally:
                runner.run(connections.aclose())

    def _wait(self, seconds: float, seen: int) -> None:
        """Until a wake-up after `seen`, or `seconds`. One worker at a time waits for
        wake-ups, so that a commit makes one claim, not one per worker: the others wait
        their turn, or for a retry due sooner on their own."""
        if seconds < IDLE_SECONDS:
            self._stop.wait(seconds)
            return
        if not self._watch.acquire(timeout=seconds):
            return  # another watched all along: time to look again
        try:
            self._consumed = max(self._consumed, seen)
            self.wakeups.wait(seconds, after=self._consumed)
            self._consumed = self.wakeups.count
        finally:
            self._watch.release()

    def deliver_round(self, runner: asyncio.Runner, connections: Connections) -> Outcome:
        """Claim the subscriptions with something due and deliver a round, on
        `connections` (kept open in `runner`'s loop)."""
        with self.session_factory.begin() as session:
            claimed = subscriptions.claim_round(session, now=utc_now(), limit=ROUND_SUBSCRIPTIONS)
            if not claimed.subscriptions:
                return Outcome([], more=False, next_due=claimed.next_due)
            started = utc_now()
            plans = [
                _plan(subscription, claimed, started) for subscription in claimed.subscriptions
            ]
            pages = subscriptions.pages_after(
                session, (plan.start for plan in plans), bound=claimed.bound, limit=BATCH_EVENTS
            )
            for plan in plans:
                plan.read(pages[plan.start], claimed.bound)
            stops = runner.run(self._send_round(plans, connections))
            states: list[State] = []
            logged: list[Logged] = []
            for plan, stopped_at in zip(plans, stops, strict=True):
                state, entries = subscriptions.after_round(
                    plan.subscription,
                    plan.attempts,
                    cursor=plan.cursor(stopped_at),
                    now=started,
                    retry=self.policy.retry,
                    max_failures=self.policy.max_failures,
                )
                states.append(state)
                logged.extend(plan.warnings + entries)
            subscriptions.save_round(session, states, logged)
        return Outcome.of(claimed, states, started)

    async def _send_round(self, plans: list[Plan], connections: Connections) -> list[int | None]:
        """Every plan's events sent, the subscriptions concurrently; for each, the id of
        the first event not taken (failed, or not sent in time), or None."""
        targets = await self._targets({plan.subscription.url for plan in plans if plan.events})
        bodies: dict[int, tuple[dict[str, str], bytes]] = {}
        started = time.monotonic()
        return list(
            await asyncio.gather(
                *(self._send_all(plan, targets, bodies, connections, started) for plan in plans)
            )
        )

    async def _targets(self, urls: Iterable[str]) -> dict[str, Target | str]:
        """Each URL checked against the allow-list (resolving its host) once per round:
        where to send, or why not. Checked every round: an admin may change a URL, and
        a name may resolve elsewhere."""
        urls = list(urls)
        checked = await asyncio.gather(*(check(url, self.policy.call) for url in urls))
        return dict(zip(urls, checked, strict=True))

    async def _send_all(
        self,
        plan: Plan,
        targets: dict[str, Target | str],
        bodies: dict[int, tuple[dict[str, str], bytes]],
        connections: Connections,
        started: float,
    ) -> int | None:
        subscription = plan.subscription
        for event in plan.events:
            if time.monotonic() - started > BATCH_SECONDS or self._stop.is_set():
                return event.id
            now = utc_now()
            body = bodies.get(event.id)
            if body is None:
                body = bodies[event.id] = body_of(event, source=self.policy.source)
            headers, content = signed(body, subscription.id, subscription.secret, now)
            attempt = await post(
                targets[subscription.url],
                headers,
                content,
                self.policy.call,
                event.id,
                now,
                connections,
            )
            plan.attempts.append(attempt)
            if not attempt.succeeded:
                return event.id
        return None


@dataclass(frozen=True)
class Outcome:
    """What a round came to: the subscriptions claimed, whether more may be due at once
    (it claimed as many as it could, or one in failure alone, or a subscription has
    events left), and the next retry to come."""

    claimed: list[int]
    more: bool
    next_due: datetime | None

    @classmethod
    def of(cls, claimed: Round, states: list[State], now: datetime) -> Outcome:
        retries = [state.next_attempt_at for state in states if state.next_attempt_at > now]
        left = any(
            state.last_event_id < claimed.bound and state.next_attempt_at <= now for state in states
        )
        alone = claimed.subscriptions[0].consecutive_failures > 0
        full = len(claimed.subscriptions) >= ROUND_SUBSCRIPTIONS
        due = [*retries, *([claimed.next_due] if claimed.next_due else [])]
        return cls(
            [subscription.id for subscription in claimed.subscriptions],
            more=left or alone or full,
            next_due=min(due, default=None),
        )

    def wait_seconds(self, now: datetime) -> float:
        """Until the next retry is due, or IDLE_SECONDS at most."""
        if self.next_due is None:
            return IDLE_SECONDS
        return max(0.0, min(IDLE_SECONDS, (self.next_due - now).total_seconds()))


@dataclass
class Plan:
    """One subscription's part of a round: where its cursor starts (after the events
    pruned meanwhile, if any, with their warning), the events read after it, those that
    match its query, and the attempts made."""

    subscription: Claimed
    start: int
    warnings: list[Logged]
    events: list[EventOut]
    attempts: list[Attempt]
    end: int = 0

    def read(self, page: list[EventOut], bound: int) -> None:
        """The page read after `start`, up to `bound`: the events to send, and where the
        cursor may go once they are taken. When the page was read to `bound` (shorter
        than asked, or ending there), every event up to `bound` was seen (ids follow
        commit order: none can still commit below it); else up to the page's end."""
        query = self.subscription.query
        self.events = [event for event in page if matches(query, event.kind.value, event.meta)]
        complete = len(page) < BATCH_EVENTS or page[-1].id >= bound
        self.end = bound if complete else page[-1].id

    def cursor(self, stopped_at: int | None) -> int:
        """Just before the first event not taken, or the end of what was read."""
        return self.end if stopped_at is None else stopped_at - 1


def _plan(subscription: Claimed, claimed: Round, now: datetime) -> Plan:
    skipped = subscriptions.Skipped.after(subscription.last_event_id, claimed.oldest)
    if skipped is None:
        return Plan(subscription, subscription.last_event_id, [], [], [])
    logger.warning("Subscription %r: %s", subscription.name, skipped.warning)
    return Plan(subscription, skipped.last_id, [skipped.logged(subscription.id, now)], [], [])


class LogPruning:
    """A worker's pruning of the delivery log, out of the rounds' way: one DELETE for
    every subscription it delivered to, after LOG_PRUNE_ROUNDS rounds or
    LOG_PRUNE_SECONDS, whichever comes first (also when it has nothing else to do). So a
    log holds at most DELIVERY_LOG_KEPT entries plus what came since its last prune."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self._ids: set[int] = set()
        self._rounds = 0
        self._since = time.monotonic()

    def after_round(self, delivered: list[int]) -> None:
        if delivered:
            self._ids.update(delivered)
            self._rounds += 1
        due = self._rounds >= LOG_PRUNE_ROUNDS or time.monotonic() - self._since > LOG_PRUNE_SECONDS
        if not self._ids or not due:
            return
        with self.session_factory.begin() as session:
            subscriptions.prune_logs(session, self._ids)
        self._ids, self._rounds, self._since = set(), 0, time.monotonic()


async def check(url: str, policy: CallPolicy) -> Target | str:
    """Where `url` may be sent to, or why not (the reason a failed attempt gives)."""
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            return await policy.allowlist.target(url)
    except UrlNotAllowed as refusal:
        return str(refusal)
    except TimeoutError:
        return _timed_out(policy)
    except OSError as cause:
        logger.warning("Webhook to %s failed: %s: %s", mask_url(url), type(cause).__name__, cause)
        return UNREACHABLE


async def post(
    target: Target | str,
    headers: dict[str, str],
    body: bytes,
    policy: CallPolicy,
    event_id: int,
    now: datetime,
    connections: Connections,
) -> Attempt:
    """POST one event to the checked address of a URL (`target`; a string: why it may
    not be sent, the attempt's error); never raises for network errors.

    Every connection failure reads the same in the log ("could not be reached"), as
    service calls do: an admin's URL must not become a port scanner; the cause is logged
    on the server only.
    """
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    if isinstance(target, str):
        error = target
    else:
        try:
            async with asyncio.timeout(policy.timeout_seconds):
                status_code = await connections.post(target, headers, body)
        except TimeoutError:
            error = _timed_out(policy)
        except (OSError, h11.ProtocolError) as cause:
            logger.warning(
                "Webhook to %s failed: %s: %s", mask_url(target.url), type(cause).__name__, cause
            )
            error = UNREACHABLE
    return Attempt(
        event_id=event_id,
        time=now,
        status_code=status_code,
        error=error,
        duration_seconds=time.perf_counter() - started,
    )


def _timed_out(policy: CallPolicy) -> str:
    return f"The receiver did not answer within {policy.timeout_seconds:g} seconds."

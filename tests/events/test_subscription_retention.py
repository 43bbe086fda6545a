"""A subscription further behind than the retention: the events pruned before it could
have them are skipped, and said so, in `enable`'s answer and in the delivery log, once."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.db import make_session_factory
from dtbase.client import Client
from tests.utils.webhooks import emit, pruned_through

RECEIVER = "http://127.0.0.1:9/hook"  # on the tests' allow-list; never called here


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def behind(client: Client, sessions: sessionmaker[Session]) -> Client:
    """The subscription `hook`, disabled at cursor 1 while events 1 to 5 were stored."""
    emit(sessions, 5)
    client.subscriptions.create_subscription("hook", RECEIVER, after=1)
    client.subscriptions.disable_subscription("hook")
    return client


def test_enabling_after_events_were_pruned_says_how_many_are_skipped(
    behind: Client, sessions: sessionmaker[Session]
) -> None:
    pruned_through(sessions, 3)

    answer = behind.subscriptions.enable_subscription("hook")

    assert answer.skipped_events == 2
    assert answer.warning == (
        "Skipped up to 2 events: events 2 to 3 were deleted after the retention "
        "(DT_EVENTS_RETENTION_DAYS) before they could be delivered, matching or not. "
        "Delivery goes on with event 4."
    )
    assert answer.detail == f"Subscription enabled. {answer.warning}"
    [listed] = behind.subscriptions.list_subscriptions()
    assert (listed.enabled, listed.last_event_id) == (True, 3)
    [logged] = behind.subscriptions.delivery_log("hook")
    assert (logged.attempt, logged.event_id, logged.warning) == (0, 3, answer.warning)
    assert (logged.error, logged.status_code, logged.succeeded) == (None, None, False)

    # Said once: the cursor is past the gap now.
    behind.subscriptions.disable_subscription("hook")
    again = behind.subscriptions.enable_subscription("hook")
    assert (again.detail, again.skipped_events, again.warning) == ("Subscription enabled.", 0, None)
    assert len(behind.subscriptions.delivery_log("hook")) == 1


def test_one_event_pruned_is_named_alone(behind: Client, sessions: sessionmaker[Session]) -> None:
    pruned_through(sessions, 2)

    answer = behind.subscriptions.enable_subscription("hook")

    assert answer.skipped_events == 1
    assert answer.warning is not None
    assert "Skipped up to 1 event: event 2 was deleted" in answer.warning


def test_nothing_pruned_after_the_cursor_enables_without_a_warning(
    behind: Client, sessions: sessionmaker[Session]
) -> None:
    pruned_through(sessions, 1)  # the cursor's own event: nothing after it is missing

    answer = behind.subscriptions.enable_subscription("hook")

    assert (answer.detail, answer.skipped_events, answer.warning) == (
        "Subscription enabled.",
        0,
        None,
    )
    assert behind.subscriptions.delivery_log("hook") == []
    assert behind.subscriptions.list_subscriptions()[0].last_event_id == 1


@pytest.mark.parametrize("after", [None, 0], ids=["from now", "every event kept"])
def test_a_subscription_made_after_everything_was_pruned_warns_of_nothing(
    client: Client, sessions: sessionmaker[Session], after: int | None
) -> None:
    """What was gone before the subscription existed was never its to miss."""
    emit(sessions, 3)
    pruned_through(sessions, 3)  # no event kept at all

    client.subscriptions.create_subscription("hook", RECEIVER, after=after)
    emit(sessions, 1)  # event 4
    client.subscriptions.disable_subscription("hook")
    answer = client.subscriptions.enable_subscription("hook")

    assert (answer.skipped_events, answer.warning) == (0, None)
    assert client.subscriptions.list_subscriptions()[0].last_event_id == 3
    assert client.subscriptions.delivery_log("hook") == []

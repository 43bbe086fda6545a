"""The client's reader of server-sent event records (`dtbase.client.sse`): the WHATWG
format's line endings, comments and fields, whatever the chunks, and the same records as
httpx-sse, an independent implementation, reads."""

from __future__ import annotations

import httpx
from httpx_sse import EventSource
from hypothesis import given
from hypothesis import strategies as st

from dtbase.client.sse import Record, records

STREAM = (
    b": a comment first\n"
    b"id: 41\nretry: 2000\n\n"
    b'id: 42\nevent: readings.stored\ndata: {"id":42}\n\n'
    b": ping - 2026-12-05 10:00:15\n\n"
    b"data:no space\ndata:  two spaces\ndata\nid:43\n\n"
    b"id: 4\x004\ndata: an id with NUL is no id\n\n"
    b"event: unfinished\ndata: dropped"
)
EXPECTED = [
    Record("41", "", b""),
    Record("42", "readings.stored", b'{"id":42}'),
    Record("43", "", b"no space\n two spaces\n"),
    Record(None, "", b"an id with NUL is no id"),
]


def test_the_records_of_a_stream() -> None:
    assert list(records([STREAM])) == EXPECTED


def test_every_line_ending() -> None:
    for ending in (b"\r\n", b"\r"):
        assert list(records([STREAM.replace(b"\n", ending)])) == EXPECTED
    mixed = b"id: 1\r\ndata: a\r\r" + b"id: 2\rdata: b\n\r\n"
    assert list(records([mixed])) == [Record("1", "", b"a"), Record("2", "", b"b")]


@given(st.sampled_from([b"\n", b"\r\n", b"\r"]), st.data())
def test_the_same_records_in_chunks_cut_anywhere(ending: bytes, data: st.DataObject) -> None:
    stream = STREAM.replace(b"\n", ending)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert list(records(chunks)) == EXPECTED


# httpx splits lines at every Unicode line break, where SSE splits at CR and LF only:
# what is compared holds none of them.
_BREAKS = "\r\n\0\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_text = st.text(st.characters(blacklist_characters=_BREAKS, codec="utf-8"), max_size=12)


@given(
    st.lists(
        st.tuples(st.integers(0, 10**12), _text, st.lists(_text, min_size=1, max_size=3)),
        max_size=8,
    ),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.integers(1, 64),
)
def test_as_httpx_sse_reads_them(
    events: list[tuple[int, str, list[str]]], ending: bytes, chunk: int
) -> None:
    """Records with an id and data, as the backend sends them, with comments between."""
    stream = b"".join(
        b": comment\n"
        + f"id: {id_}\nevent: {event}\n".encode()
        + b"".join(f"data: {line}\n".encode() for line in data)
        + b"\n"
        for id_, event, data in events
    ).replace(b"\n", ending)
    chunks = [stream[start : start + chunk] for start in range(0, len(stream), chunk)]
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream)

    theirs = [
        Record(record.id, record.event, record.data.encode())
        for record in EventSource(response).iter_sse()
    ]

    ours = [record._replace(event=record.event or "message") for record in records(chunks)]
    assert ours == theirs

"""The inbox and the publisher's sent log on disk: identity, migration, private modes."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from _receive import records, run, sealed

from accord import sqlite as private_sqlite
from accord.publisher.state import SENT_LOG_PAGE_BYTES, PublisherState
from accord.receiver.inbox import Delivery, Inbox

# The inbox schema before identity became (sender, message_id): keyed by id alone.
FIRST_SCHEMA = """
CREATE TABLE messages (
    message_id TEXT PRIMARY KEY, type TEXT NOT NULL, sender TEXT NOT NULL,
    scope TEXT NOT NULL, area TEXT NOT NULL, sequence INTEGER NOT NULL,
    issued_at TEXT NOT NULL, received_at TEXT NOT NULL, topic TEXT NOT NULL,
    partition INTEGER NOT NULL, "offset" INTEGER NOT NULL, payload_sha256 TEXT NOT NULL,
    payload BLOB NOT NULL, raw BLOB NOT NULL, status TEXT NOT NULL DEFAULT 'current',
    receipt_pending INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX messages_receipt_pending ON messages(receipt_pending) WHERE receipt_pending = 1;
CREATE TABLE offsets (topic TEXT NOT NULL, partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY (topic, partition));
CREATE TABLE counters (stream TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE sequences (sender TEXT NOT NULL, topic TEXT NOT NULL, last INTEGER NOT NULL,
    PRIMARY KEY (sender, topic));
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def wide_umask() -> Iterator[None]:
    # The common default: without care, folders come out 0755 and files 0644.
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("wide_umask")
def test_an_inbox_is_created_private_wal_and_shm_included(tmp_path: Path) -> None:
    path = tmp_path / "data" / "inbox.sqlite"
    inbox = Inbox(path)
    inbox.land(run(records(sealed("AUS.DFAT", 1)), inbox).deliveries, {})
    assert mode(path.parent) == 0o700
    companions = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
    assert all(p.exists() for p in companions)
    assert [mode(p) for p in (path, *companions)] == [0o600, 0o600, 0o600]
    inbox.close()


@pytest.mark.usefixtures("wide_umask")
def test_the_publishers_sent_log_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "publisher.sqlite"
    state = PublisherState(path)
    state.record_sent("m", "t", b"envelope")
    assert mode(path.parent) == 0o700
    assert {mode(p) for p in path.parent.iterdir()} == {0o600}
    state.close()


@pytest.mark.parametrize("make", [Inbox, PublisherState], ids=["inbox", "sent-log"])
def test_wider_modes_found_at_start_are_reported_and_tightened(
    tmp_path: Path,
    make: type[Inbox] | type[PublisherState],
) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    path = folder / "store.sqlite"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    folder.chmod(0o755)
    structlog.reset_defaults()  # a CLI test earlier in the run may have set a higher level
    with structlog.testing.capture_logs() as logs:
        make(path).close()
    assert (mode(folder), mode(path)) == (0o700, 0o600)
    tightened = {
        e["path"]: e["found"] for e in logs if e["event"] == "sqlite.private_data_mode_tightened"
    }
    assert tightened == {str(folder): "0o755", str(path): "0o644"}


def test_an_inbox_of_the_first_schema_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    old = Inbox(tmp_path / "scratch.sqlite")  # a row as the first schema held it
    genuine = sealed("AUS.DFAT", 1)
    out = run(records(genuine), old)
    d = out.deliveries[0]
    old.close()
    db = sqlite3.connect(path)
    db.executescript(FIRST_SCHEMA)
    db.execute(
        "INSERT INTO messages (message_id, type, sender, scope, area, sequence, issued_at,"
        ' received_at, topic, partition, "offset", payload_sha256, payload, raw,'
        " receipt_pending) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)",
        (
            d.message_id,
            d.type,
            d.sender,
            d.scope,
            d.area,
            d.sequence,
            d.issued_at.isoformat(),
            d.issued_at.isoformat(),
            d.topic,
            d.partition,
            d.offset,
            d.payload_sha256,
            d.payload,
            d.raw,
        ),
    )
    db.execute("INSERT INTO offsets VALUES (?, 0, 1)", (d.topic,))
    db.commit()
    db.close()
    inbox = Inbox(path)
    assert inbox.next_offsets() == {(d.topic, 0): 1}
    stored = inbox.get(d.message_id, sender="AUS.DFAT")
    assert stored is not None
    assert stored.payload_sha256 == d.payload_sha256
    assert inbox.owed_receipts() == []
    # The new key: another sender's message with this id now lands beside it.
    squat = sealed("JPN.MOD", 1, message_id=genuine[0].message_id)
    landed = inbox.land(run(records(squat, start=1), inbox).deliveries, {}).landed
    assert landed == [("JPN.MOD", d.message_id)]
    inbox.close()
    assert Inbox(path).count() == 2  # and opening again is a no-op


# The inbox schema whose messages each carried a receipt_pending flag (user_version 2).
SECOND_SCHEMA = (
    FIRST_SCHEMA.replace(
        "message_id TEXT PRIMARY KEY, type TEXT NOT NULL,",
        "message_id TEXT NOT NULL, type TEXT NOT NULL,",
    ).replace(
        "receipt_pending INTEGER NOT NULL DEFAULT 1\n);",
        "receipt_pending INTEGER NOT NULL DEFAULT 1,\n    PRIMARY KEY (sender, message_id)\n);",
    )
    + "PRAGMA user_version=2;"
)


def test_an_inbox_of_the_second_schema_is_migrated_its_pending_flags_owed(
    tmp_path: Path,
) -> None:
    scratch = Inbox(tmp_path / "scratch.sqlite")
    messages = [sealed("AUS.DFAT", n) for n in (1, 2, 3)]
    deliveries = run(records(*messages), scratch).deliveries
    scratch.close()
    path = tmp_path / "inbox.sqlite"
    db = sqlite3.connect(path)
    db.executescript(SECOND_SCHEMA)
    for d, pending in zip(deliveries, (1, 0, 1), strict=True):
        db.execute(
            "INSERT INTO messages (message_id, type, sender, scope, area, sequence, issued_at,"
            ' received_at, topic, partition, "offset", payload_sha256, payload, raw,'
            " receipt_pending) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (d.message_id, d.type, d.sender, d.scope, d.area, d.sequence,
             d.issued_at.isoformat(), d.issued_at.isoformat(), d.topic, d.partition,
             d.offset, d.payload_sha256, d.payload, d.raw, pending),
        )  # fmt: skip
    db.commit()
    db.close()
    inbox = Inbox(path)
    [owed] = inbox.owed_receipts()
    assert sorted(m.message_id for m in owed.messages) == sorted(
        deliveries[i].message_id for i in (0, 2)
    )
    assert inbox.count() == 3
    inbox.close()
    db = sqlite3.connect(path)
    columns = {r[1] for r in db.execute("PRAGMA table_info(messages)")}
    version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    assert "receipt_pending" not in columns
    assert version == 3


def owed_ids(inbox: Inbox) -> list[tuple[str, str]]:
    return [(m.sender, m.message_id) for o in inbox.owed_receipts() for m in o.messages]


def test_a_landing_owes_receipts_only_when_asked_and_only_for_what_it_inserted(
    tmp_path: Path,
) -> None:
    inbox = Inbox(tmp_path / "inbox.sqlite")
    first, second, third = (sealed("AUS.DFAT", n) for n in (1, 2, 3))
    inbox.land(run(records(first), inbox).deliveries, {})  # a replay tool's landing, say
    assert inbox.owed_receipts() == []
    both = run(records(second, third, start=1), inbox).deliveries  # decided before either landed
    inbox.land(both[:1], {})
    landing = inbox.land(both, {}, owe_receipts=True)  # one of the two is already there
    assert landing.landed == [("AUS.DFAT", str(third[0].message_id))]
    assert landing.receipts_owed is not None
    assert owed_ids(inbox) == landing.landed
    assert inbox.land(both, {}, owe_receipts=True).receipts_owed is None  # nothing landed
    inbox.close()


def test_receipts_sent_clears_its_entries_and_keeps_what_is_still_owed(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox.sqlite")
    genuine = sealed("AUS.DFAT", 1)
    squat = sealed("JPN.MOD", 1, message_id=genuine[0].message_id)
    later = sealed("AUS.DFAT", 2)
    one = inbox.land(run(records(genuine, squat), inbox).deliveries, {}, owe_receipts=True)
    two = inbox.land(run(records(later, start=2), inbox).deliveries, {}, owe_receipts=True)
    assert one.receipts_owed is not None
    assert two.receipts_owed is not None
    # The first landing's receipts went out, but for JPN.MOD's message (same id: its
    # sender tells it from AUS.DFAT's, which is not kept).
    mid = str(genuine[0].message_id)
    inbox.receipts_sent([one.receipts_owed], still_owed=[("JPN.MOD", mid)])
    assert sorted(owed_ids(inbox)) == sorted(
        [("JPN.MOD", mid), ("AUS.DFAT", str(later[0].message_id))]
    )
    inbox.close()


def test_acknowledged_receipts_are_cleared_in_the_next_landing_transaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inbox.sqlite"
    inbox = Inbox(path)
    first, second = sealed("AUS.DFAT", 1), sealed("AUS.DFAT", 2)
    owed = inbox.land(
        run(records(first), inbox).deliveries, {(first[0].topic, 0): 1}, owe_receipts=True
    ).receipts_owed
    assert owed is not None
    inbox.land(
        run(records(second, start=1), inbox).deliveries,
        {(second[0].topic, 0): 2},
        owe_receipts=True,
        receipts_sent=[owed],
    )
    inbox.close()  # a crash right after the landing: nothing else was written
    reopened = Inbox(path)
    assert owed_ids(reopened) == [("AUS.DFAT", str(second[0].message_id))]
    reopened.close()


def test_a_landing_that_fails_clears_no_receipt(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox.sqlite")
    first = sealed("AUS.DFAT", 1)
    owed = inbox.land(run(records(first), inbox).deliveries, {}, owe_receipts=True).receipts_owed
    assert owed is not None
    with pytest.raises(sqlite3.Error):
        # A bad offset row fails the transaction after the receipts were cleared in it.
        inbox.land([], {("t", None): 1}, receipts_sent=[owed])  # type: ignore[dict-item]
    assert owed_ids(inbox) == [("AUS.DFAT", str(first[0].message_id))]
    inbox.close()


def test_a_batch_holding_a_row_already_landed_lands_only_the_new_ones(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox.sqlite")
    first, second = sealed("AUS.DFAT", 1), sealed("AUS.DFAT", 2)
    both = run(records(first, second), inbox).deliveries  # decided before either landed
    inbox.land(both[:1], {})
    landed = inbox.land(both, {}).landed
    assert landed == [("AUS.DFAT", str(second[0].message_id))]
    assert inbox.count() == 2
    assert inbox.last_sequence("AUS.DFAT", first[0].topic) == 2
    inbox.close()


# -- checkpoints off the landing transaction -------------------------------------------

_MiB = 1 << 20


@pytest.fixture
def landed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[Inbox, Path]]:
    """An inbox at ``inbox.db`` whose checkpointer runs every ``request.param``
    seconds (set before the inbox starts it). ``land(inbox, batches)`` lands rows the
    size of the bench's in it (a 1.6 kB payload and its 3.2 kB record). Closed
    afterwards, its checkpoint thread with it."""
    monkeypatch.setattr(private_sqlite, "CHECKPOINT_EVERY_S", request.param)
    path = tmp_path / "inbox.db"
    inbox = Inbox(path)
    yield inbox, path
    inbox.close()
    assert _checkpointers("inbox.db") == []


def land(inbox: Inbox, batches: int) -> None:
    payload, raw = os.urandom(1640), os.urandom(3247)
    for b in range(batches):
        rows = [
            Delivery(
                f"00000000-0000-7000-8000-{i:012x}",
                "t",
                "AUS.AFP",
                "bilateral",
                "counter-terrorism",
                i + 1,
                datetime.now(UTC),
                "topic",
                0,
                i,
                "ab" * 32,
                payload,
                raw,
            )
            for i in range(b * 100, (b + 1) * 100)
        ]
        inbox.land(rows, {("topic", 0): (b + 1) * 100})


def _checkpointers(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"sqlite-checkpoint:{name}"]


@pytest.mark.parametrize("landed", [3600.0], indirect=True)  # held off
def test_no_landing_commit_runs_a_checkpoint(landed: tuple[Inbox, Path]) -> None:
    # The background checkpointer held off: 1 200 landed rows, far past SQLite's
    # default automatic checkpoint at 1 000 WAL pages, all stay in the WAL. Before,
    # the commit that crossed it copied them into the database itself.
    inbox, path = landed
    land(inbox, 12)
    assert inbox.count() == 1200
    assert path.with_name("inbox.db-wal").stat().st_size > 5 * _MiB
    assert path.stat().st_size < _MiB


@pytest.mark.parametrize("landed", [0.05], indirect=True)
def test_the_background_checkpointer_moves_the_wal_into_the_database(
    landed: tuple[Inbox, Path],
) -> None:
    inbox, path = landed
    land(inbox, 3)
    deadline = time.monotonic() + 10
    while path.stat().st_size < _MiB and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size >= _MiB  # 300 rows of 5 kB, checkpointed
    reader = sqlite3.connect(path)
    try:
        assert reader.execute("SELECT count(*) FROM messages").fetchone()[0] == 300
    finally:
        reader.close()


@pytest.mark.parametrize("make", [Inbox, PublisherState], ids=["inbox", "sent-log"])
def test_the_writer_keeps_a_backstop_and_close_stops_the_thread(
    tmp_path: Path, make: type[Inbox] | type[PublisherState]
) -> None:
    store = make(tmp_path / "store.db")
    assert len(_checkpointers("store.db")) == 1
    store.close()
    assert _checkpointers("store.db") == []
    db = private_sqlite.open_private(tmp_path / "store.db", synchronous="FULL")
    try:
        private_sqlite.BackgroundCheckpoints(tmp_path / "store.db", db).close()
        # The writer's own automatic checkpoint stays, at a bound the WAL never passes
        # (in pages of this database's size: 4 KiB for the inbox, 16 KiB for the log).
        page = db.execute("PRAGMA page_size").fetchone()[0]
        assert page == (4096 if make is Inbox else SENT_LOG_PAGE_BYTES)
        pages = db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert pages * page == private_sqlite.BACKSTOP_BYTES
    finally:
        db.close()


def test_a_new_sent_log_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    new = PublisherState(tmp_path / "new.db")
    new.record_sent("m-1", "t", b"x" * 3000)
    new.close()
    old_path = tmp_path / "old.db"
    old = sqlite3.connect(old_path)  # a sent log an earlier version created: 4 KiB pages
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE kept (a)")
    old.close()
    kept = PublisherState(old_path)
    kept.record_sent("m-2", "t", b"y" * 3000)
    assert kept.sent_envelope("m-2") == b"y" * 3000
    kept.close()
    for path, size in ((tmp_path / "new.db", SENT_LOG_PAGE_BYTES), (old_path, 4096)):
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA page_size").fetchone()[0] == size

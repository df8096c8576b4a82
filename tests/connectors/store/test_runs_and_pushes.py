"""Runs (what each cycle did) and pushed flags (what was written back, never twice)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from store_builders import dump

from connectors.store import Store, StoreError

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


def test_a_run_is_started_then_finished_with_its_counts(store: Store) -> None:
    run_id = store.start_run("acme", NOW)
    (running,) = store.last_runs("acme", 5)
    assert (running.id, running.status, running.finished_at) == (run_id, None, None)
    counts = {"pulled": 120, "enqueued": 3, "sent": 2, "by_channel": {"email": 2}}
    store.finish_run(run_id, "ok", counts, now=NOW + timedelta(seconds=42))
    (done,) = store.last_runs("acme", 5)
    assert (done.status, done.counts, done.error) == ("ok", counts, None)
    assert done.finished_at == NOW + timedelta(seconds=42)


def test_last_runs_are_the_companys_newest_first(store: Store) -> None:
    ids = [store.start_run("acme", NOW + timedelta(minutes=m)) for m in range(4)]
    store.start_run("globex", NOW + timedelta(hours=1))
    failed = ids[-1]
    store.finish_run(failed, "failed", {"pulled": 0}, "pennylane: 401 Unauthorized")
    runs = store.last_runs("acme", 3)
    assert [r.id for r in runs] == ids[::-1][:3]
    assert (runs[0].status, runs[0].error) == ("failed", "pennylane: 401 Unauthorized")
    assert {r.company for r in runs} == {"acme"}


def test_a_run_finishes_as_ok_or_failed_only(store: Store) -> None:
    run_id = store.start_run("acme", NOW)
    with pytest.raises(StoreError, match="ok, failed"):
        store.finish_run(run_id, "done", {})
    with pytest.raises(StoreError, match="no run"):
        store.finish_run(run_id + 1000, "ok", {})


def test_a_push_is_remembered_and_recording_it_again_changes_nothing(store: Store) -> None:
    """DESIGN §10 "Push back": what was pushed is recorded so it is never repeated."""
    assert store.pushed_value("acme", "reminder_level", "F1") is None
    with store.transaction() as tx:
        store.record_push(tx, "acme", "reminder_level", "F1", "2", NOW)
        store.record_push(tx, "acme", "dispute", "F1", "open", NOW)
    once = dump(store)
    with store.transaction() as tx:
        store.record_push(tx, "acme", "reminder_level", "F1", "2", NOW)
    assert dump(store) == once
    with store.transaction() as tx:
        store.record_push(tx, "acme", "reminder_level", "F1", "3", NOW + timedelta(days=7))
    assert store.pushed_value("acme", "reminder_level", "F1") == "3"
    assert store.pushed_value("acme", "dispute", "F1") == "open"
    assert store.pushed_value("globex", "reminder_level", "F1") is None
    assert store.pushed_values("acme", "reminder_level") == {"F1": "3"}

"""The outbox: one row per action key, written with the journal, delivered once
(DESIGN §5.6 and §10; STYLE §3: pending → claimed → sent | cancelled | failed)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from store_builders import TODAY, action, actions, customer, dump, invoice

from connectors.store import ClaimLost, Store, StoreError, UnknownKey
from connectors.store.payload import action_from_payload, action_to_payload
from connectors.store.store import Delivered
from core.actions import ActionInvoice, ContextInvoice, Credit
from core.engine import record

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
LEASE = 300


def enqueue(store: Store, items: list, *, dry_run: bool = False, company: str = "acme") -> int:  # type: ignore[type-arg]
    with store.transaction() as tx:
        return store.enqueue(tx, company, items, dry_run=dry_run, today=TODAY, now=NOW)


# -- enqueue ----------------------------------------------------------------


def test_enqueue_writes_one_outbox_row_and_one_journal_entry_per_action(store: Store) -> None:
    """DESIGN §10: actions are written with the journal; the entry is core's record()."""
    items = actions(3)
    assert enqueue(store, items) == 3
    rows = store.outbox_rows("acme")
    assert [(r.key, r.state, r.dry_run, r.channel, r.customer_id) for r in rows] == [
        (a.key, "pending", False, "email", a.customer_id) for a in items
    ]
    assert rows[0].created_at == NOW and rows[0].attempts == 0
    assert store.ledger("acme", TODAY).reminders == sorted(
        (record(a, TODAY) for a in items), key=lambda r: r.key
    )


def test_outbox_and_journal_commit_together_or_not_at_all(store: Store) -> None:
    """DESIGN §10: one transaction; a failure after enqueue leaves neither behind."""
    before = dump(store)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        store.enqueue(tx, "acme", actions(2), dry_run=False, today=TODAY)
        raise RuntimeError("crash before commit")
    assert dump(store) == before
    assert store.outbox_counts("acme")["pending"] == 0
    assert store.history("acme", "C0") == []


def test_enqueueing_the_same_keys_again_adds_nothing(store: Store) -> None:
    """DESIGN §5.6: re-planning the same day finds the keys already there."""
    items = actions(2)
    assert enqueue(store, items) == 2
    once = dump(store)
    assert enqueue(store, [*items, items[0]]) == 0
    assert dump(store) == once
    assert enqueue(store, [*items, action("C9", (("F9", 1),))]) == 1


def test_a_key_given_twice_in_one_call_is_enqueued_once(store: Store) -> None:
    assert enqueue(store, [action(), action()]) == 1
    assert store.outbox_counts("acme")["pending"] == 1


def test_a_dry_run_records_the_outbox_row_but_never_journals_it(store: Store) -> None:
    """DESIGN §10: dry run is the default; it records what would be sent, nothing else."""
    assert enqueue(store, [action()], dry_run=True) == 1
    (row,) = store.outbox_rows("acme")
    assert row.dry_run and row.state == "pending"
    assert store.history("acme", "C1") == []
    (claimed,) = store.claim("acme", "w1", 10, LEASE, NOW)
    store.mark_dry_run("acme", claimed.key, "Relance facture F1", "Bonjour…", NOW)
    row_after = store.outbox_row("acme", claimed.key)
    assert row_after is not None
    assert (row_after.state, row_after.subject, row_after.body) == (
        "dry_run",
        "Relance facture F1",
        "Bonjour…",
    )
    assert store.claim("acme", "w1", 10, LEASE, NOW) == []


def test_a_real_run_takes_over_a_key_a_dry_run_recorded(store: Store) -> None:
    """Switching to ``send = true`` must not leave an action blocked by its dry-run row
    (the key stays the same until the journal moves on)."""
    enqueue(store, [action()], dry_run=True)
    assert enqueue(store, [action()], dry_run=True) == 0
    assert enqueue(store, [action()], dry_run=False) == 1
    (row,) = store.outbox_rows("acme")
    assert (row.state, row.dry_run) == ("pending", False)
    assert [r.key for r in store.history("acme", "C1")] == [row.key]
    assert enqueue(store, [action()], dry_run=False) == 0
    assert enqueue(store, [action()], dry_run=True) == 0


def test_a_dry_run_worker_cannot_record_over_a_row_taken_over_by_a_real_run(
    store: Store,
) -> None:
    enqueue(store, [action()], dry_run=True)
    (claimed,) = store.claim("acme", "dry", 10, LEASE, NOW)
    enqueue(store, [action()], dry_run=False)
    with pytest.raises(ClaimLost):
        store.mark_dry_run("acme", claimed.key, "s", "b", NOW)


def test_an_escalation_marks_its_invoices_escalated(store: Store) -> None:
    """DESIGN §5.7: executing an escalation marks the listed invoices escalated,
    in the transaction that journals it (docs/decisions.md "Escalated invoices")."""
    with store.transaction() as tx:
        store.upsert_customers(tx, "acme", [customer()])
        store.upsert_invoices(tx, "acme", [invoice("F1"), invoice("F2")])
    enqueue(store, [action(lines=(("F1", 6),), channel="escalation")], dry_run=True)
    assert not any(i.escalated for i in store.ledger("acme", TODAY).invoices)
    enqueue(store, [action(lines=(("F1", 6),), channel="escalation")])
    flags = {i.id: i.escalated for i in store.ledger("acme", TODAY).invoices}
    assert flags == {"F1": True, "F2": False}


def test_the_payload_reads_back_as_the_same_action() -> None:
    """The outbox keeps the whole action (numbers, context, credits, late-payment
    amounts), so the text can be rendered at delivery time."""
    notice = action(lines=(("F1", 5), ("F2", 5)), channel="formal_notice")
    notice.invoices = (
        ActionInvoice("F1", "FA-1", 5, 31, Decimal("1200.00"), Decimal("12.34"), Decimal("40")),
        ActionInvoice("F2", "FA-2", 5, 35, Decimal("0.10"), Decimal("0.00"), Decimal("40.00")),
    )
    notice.context = (ContextInvoice("F3", "FA-3", 4, Decimal("99.99")),)
    notice.credits = (Credit("A1", "AV-1", Decimal("10.50")),)
    notice.interest_rate = Decimal("0.1215")
    notice.payment_deadline_days = 8
    back = action_from_payload(action_to_payload(notice))
    assert back == notice
    assert action_from_payload(action_to_payload(action())) == action()


def test_a_claimed_row_carries_its_action(store: Store) -> None:
    item = action()
    enqueue(store, [item])
    (row,) = store.claim("acme", "w1", 1, LEASE, NOW)
    assert row.action == item


# -- claim, lease, reaper --------------------------------------------------


def test_claim_takes_pending_rows_oldest_first_up_to_the_limit(store: Store) -> None:
    items = actions(5)
    enqueue(store, items)
    first = store.claim("acme", "w1", 3, LEASE, NOW)
    assert [r.key for r in first] == [a.key for a in items[:3]]
    assert {(r.state, r.claimed_by) for r in first} == {("claimed", "w1")}
    assert first[0].claim_expires_at == NOW + timedelta(seconds=LEASE)
    assert first[0].updated_at == NOW
    second = store.claim("acme", "w2", 10, LEASE, NOW)
    assert [r.key for r in second] == [a.key for a in items[3:]]
    assert store.claim("acme", "w3", 10, LEASE, NOW) == []
    assert store.claim("acme", "w3", 0, LEASE, NOW) == []


def test_a_claimed_row_stays_with_its_worker_while_the_lease_runs(store: Store) -> None:
    enqueue(store, [action()])
    store.claim("acme", "w1", 1, LEASE, NOW)
    just_before = NOW + timedelta(seconds=LEASE - 1)
    assert store.claim("acme", "w2", 1, LEASE, just_before) == []


def test_a_claim_whose_lease_expired_can_be_taken_over(store: Store) -> None:
    """STYLE §3: a claim has an owner and an expiry; a dead worker's rows go on."""
    enqueue(store, [action()])
    store.claim("acme", "w1", 1, LEASE, NOW)
    later = NOW + timedelta(seconds=LEASE)
    (row,) = store.claim("acme", "w2", 1, LEASE, later)
    assert row.claimed_by == "w2"
    assert row.claim_expires_at == later + timedelta(seconds=LEASE)


def test_the_reaper_puts_stale_claims_back_and_they_say_a_send_may_have_happened(
    store: Store,
) -> None:
    """STYLE §3: a reaper releases stale claims; the attempt recorded before the crash
    stays, so the next worker checks the Message-ID before sending again."""
    enqueue(store, actions(2))
    crashed, fresh = store.claim("acme", "w1", 2, LEASE, NOW)
    store.record_attempt("acme", crashed.key, "<k1@relance>", NOW, worker="w1")
    # ... and the worker dies here.
    assert store.reap("acme", NOW + timedelta(seconds=LEASE - 1)) == 0
    assert store.reap("acme", NOW + timedelta(seconds=LEASE)) == 2
    rows = {r.key: r for r in store.outbox_rows("acme")}
    assert {r.state for r in rows.values()} == {"pending"}
    assert rows[crashed.key].may_have_been_sent
    assert rows[crashed.key].message_id == "<k1@relance>"
    assert not rows[fresh.key].may_have_been_sent
    again = store.claim("acme", "w2", 2, LEASE, NOW + timedelta(seconds=LEASE))
    assert [r.key for r in again if r.may_have_been_sent] == [crashed.key]


def test_claim_waits_out_the_back_off_of_a_failed_row(store: Store) -> None:
    """DESIGN §10: retries with back-off (a Retry-After becomes ``retry_at``)."""
    enqueue(store, [action()])
    (row,) = store.claim("acme", "w1", 1, LEASE, NOW)
    retry_at = NOW + timedelta(minutes=10)
    store.mark_failed("acme", row.key, "429 Too Many Requests", NOW, 5, retry_at=retry_at)
    assert store.claim("acme", "w1", 1, LEASE, retry_at - timedelta(seconds=1)) == []
    (again,) = store.claim("acme", "w1", 1, LEASE, retry_at)
    assert again.last_error == "429 Too Many Requests"


def test_claim_only_takes_the_companys_own_rows(store: Store) -> None:
    enqueue(store, [action()], company="acme")
    enqueue(store, [action()], company="globex")
    (row,) = store.claim("globex", "w1", 10, LEASE, NOW)
    assert row.company == "globex"
    assert store.outbox_counts("acme")["pending"] == 1


@pytest.mark.parametrize("claimers", [2, 4])
def test_concurrent_claimers_never_claim_the_same_row(store_url: str, claimers: int) -> None:
    """STYLE §3: the conditional UPDATE checked by its row count keeps claims exclusive
    on SQLite (no SKIP LOCKED) and PostgreSQL; each worker has its own connection pool."""
    total = 120
    setup = Store.open(store_url)
    enqueue(setup, actions(total))
    setup.close()

    stores = [Store.open(store_url) for _ in range(claimers)]
    start = threading.Barrier(claimers)
    claimed: list[list[str]] = [[] for _ in range(claimers)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            while True:
                rows = stores[n].claim("acme", f"w{n}", 3, LEASE, NOW)
                if not rows:
                    return
                claimed[n].extend(r.key for r in rows)
                time.sleep(0.002)  # "delivering": lets the other workers in
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for s in stores:
        s.close()
    assert errors == []
    every = [key for keys in claimed for key in keys]
    assert len(every) == len(set(every)) == total
    assert sum(1 for keys in claimed if keys) >= 2, "the workers really ran side by side"


def test_two_processes_enqueueing_the_same_actions_enqueue_each_once(store_url: str) -> None:
    """Two runners planning the same company at once: each key is enqueued and
    journaled once, and neither run fails."""
    items = actions(60)
    stores = [Store.open(store_url) for _ in range(2)]
    start = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            for chunk in (items[:30], items[30:], items):
                with stores[n].transaction() as tx:
                    counts.append(
                        stores[n].enqueue(tx, "acme", chunk, dry_run=False, today=TODAY, now=NOW)
                    )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(counts) == 60
    assert stores[0].outbox_counts("acme")["pending"] == 60
    assert len(stores[0].ledger("acme", TODAY).reminders) == 60
    for s in stores:
        s.close()


# -- marking outcomes -----------------------------------------------------


def test_an_attempt_is_recorded_before_sending(store: Store) -> None:
    """DESIGN §10: exactly once across crashes; the Message-ID and the rendered text
    are stored before the send."""
    enqueue(store, [action()])
    (row,) = store.claim("acme", "w1", 1, LEASE, NOW)
    assert not row.may_have_been_sent
    store.record_attempt(
        "acme", row.key, "<key@relance>", NOW, worker="w1", subject="Relance", body="Bonjour"
    )
    after = store.outbox_row("acme", row.key)
    assert after is not None
    assert (after.attempts, after.message_id, after.subject, after.body) == (
        1,
        "<key@relance>",
        "Relance",
        "Bonjour",
    )
    assert after.may_have_been_sent and after.attempted_at == NOW


def test_a_worker_whose_claim_was_taken_over_may_not_send(store: Store) -> None:
    enqueue(store, [action()])
    (row,) = store.claim("acme", "slow", 1, LEASE, NOW)
    store.claim("acme", "other", 1, LEASE, NOW + timedelta(seconds=LEASE))
    with pytest.raises(ClaimLost, match="claimed by 'other'"):
        store.record_attempt("acme", row.key, "<m>", NOW, worker="slow")
    store.record_attempt("acme", row.key, "<m>", NOW, worker="other")
    store.mark_sent("acme", row.key, "<m>", NOW)
    with pytest.raises(ClaimLost, match="is sent"):
        store.record_attempt("acme", row.key, "<m>", NOW)


def test_the_next_attempt_marks_the_messages_delivered_since_in_its_transaction(
    store: Store,
) -> None:
    """docs/daemon.md "Exactly once": the "sent" of a message goes with the next
    attempt's commit; until then the row still says it may have been sent."""
    enqueue(store, actions(3))
    first, second, third = store.claim("acme", "w1", 3, LEASE, NOW)
    store.record_attempt("acme", first.key, "<m1>", NOW, worker="w1")
    delivered = [Delivered(first.key, "<m1>", NOW + timedelta(seconds=1))]
    before = store.outbox_row("acme", first.key)
    assert before is not None and before.may_have_been_sent  # a crash here: settled later
    store.record_attempt("acme", second.key, "<m2>", NOW, worker="w1", delivered=delivered)
    states = {r.key: (r.state, r.message_id, r.sent_at) for r in store.outbox_rows("acme")}
    assert states[first.key] == ("sent", "<m1>", NOW + timedelta(seconds=1))
    assert states[second.key][0] == "claimed"
    # A lost claim sends nothing, but the delivered rows are marked all the same.
    assert len(store.claim("acme", "w2", 3, LEASE, NOW + timedelta(seconds=LEASE))) == 2
    with pytest.raises(ClaimLost):
        store.record_attempt(
            "acme",
            third.key,
            "<m3>",
            NOW,
            worker="w1",
            delivered=[Delivered(second.key, "<m2>", NOW + timedelta(seconds=2))],
        )
    after = {r.key: (r.state, r.claimed_by) for r in store.outbox_rows("acme")}
    assert after == {
        first.key: ("sent", None),
        second.key: ("sent", None),
        third.key: ("claimed", "w2"),
    }


def test_delivered_rows_are_marked_together_like_mark_sent(store: Store) -> None:
    """mark_delivered is mark_sent for each: a cancelled row that went out all the
    same is sent and journaled again; a sent one is left as it was."""
    items = actions(3)
    enqueue(store, items)
    rows = store.claim("acme", "w1", 3, LEASE, NOW)
    for row in rows:
        store.record_attempt("acme", row.key, f"<{row.key}>", NOW, worker="w1")
    store.mark_sent("acme", rows[0].key, f"<{rows[0].key}>", NOW)
    store.mark_cancelled("acme", rows[1].key, "paid", now=NOW)
    assert store.history("acme", rows[1].customer_id) == []
    later = NOW + timedelta(seconds=5)
    store.mark_delivered("acme", [Delivered(r.key, f"<{r.key}>", later) for r in rows])
    sent = {r.key: (r.state, r.sent_at, r.may_have_been_sent) for r in store.outbox_rows("acme")}
    assert sent == {
        rows[0].key: ("sent", NOW, False),
        rows[1].key: ("sent", later, False),
        rows[2].key: ("sent", later, False),
    }
    assert [r.key for r in store.history("acme", rows[1].customer_id)] == [rows[1].key]


def test_a_sent_row_is_final_and_marking_it_again_changes_nothing(store: Store) -> None:
    enqueue(store, [action()])
    (row,) = store.claim("acme", "w1", 1, LEASE, NOW)
    store.record_attempt("acme", row.key, "<m1>", NOW, worker="w1")
    store.mark_sent("acme", row.key, "<m1>", NOW + timedelta(seconds=2))
    once = dump(store)
    store.mark_sent("acme", row.key, "<m1>", NOW + timedelta(seconds=9))
    assert dump(store) == once
    sent = store.outbox_row("acme", row.key)
    assert sent is not None
    assert (sent.state, sent.sent_at, sent.claimed_by) == (
        "sent",
        NOW + timedelta(seconds=2),
        None,
    )
    assert not sent.may_have_been_sent
    assert store.claim("acme", "w2", 1, LEASE, NOW + timedelta(days=1)) == []
    with pytest.raises(StoreError, match="was sent: cannot cancel"):
        store.mark_cancelled("acme", row.key, "too late")


def test_a_failed_send_goes_back_to_pending_until_max_attempts(store: Store) -> None:
    """STYLE §3: failures are retried, then the row is failed for good with its last error."""
    enqueue(store, [action()])
    states = []
    for attempt in range(3):
        (row,) = store.claim("acme", "w1", 1, LEASE, NOW)
        store.record_attempt("acme", row.key, "<m>", NOW, worker="w1")
        states.append(store.mark_failed("acme", row.key, f"SMTP 451 #{attempt}", NOW, 3))
    assert states == ["pending", "pending", "failed"]
    failed = store.outbox_row("acme", row.key)
    assert failed is not None
    assert (failed.state, failed.attempts, failed.last_error) == ("failed", 3, "SMTP 451 #2")
    assert failed.updated_at == NOW
    assert not failed.may_have_been_sent
    assert store.claim("acme", "w1", 1, LEASE, NOW) == []


def test_a_deferred_row_waits_without_counting_an_attempt(store: Store) -> None:
    """DESIGN §10: SMS and phone tasks go out only inside sending hours; waiting for
    them is not a failure and never exhausts the attempts."""
    enqueue(store, [action(channel="sms")])
    opening = NOW + timedelta(hours=12)
    for _ in range(5):
        (row,) = store.claim("acme", "w1", 1, LEASE, opening)
        store.defer("acme", row.key, opening + timedelta(hours=1), opening, "outside hours")
        assert store.claim("acme", "w1", 1, LEASE, opening) == []
        opening += timedelta(hours=1)
    deferred = store.outbox_row("acme", row.key)
    assert deferred is not None
    assert (deferred.state, deferred.attempts, deferred.last_error) == (
        "pending",
        0,
        "outside hours",
    )
    assert deferred.not_before == opening


def test_a_failure_before_any_attempt_counts_as_one(store: Store) -> None:
    """A row that fails before it is sent (a template error) does not loop forever."""
    enqueue(store, [action()])
    (row,) = store.claim("acme", "w1", 1, LEASE, NOW)
    assert store.mark_failed("acme", row.key, "template error", NOW, 1) == "failed"


def test_cancelling_drops_the_journal_entry(store: Store) -> None:
    """DESIGN §10: a message left with nothing to ask for is cancelled, not sent; the
    journal lists what went out, so its entry goes."""
    item = action()
    enqueue(store, [item])
    (row,) = store.claim("acme", "w1", 1, LEASE, NOW)
    store.mark_cancelled("acme", row.key, "F1 paid since planning")
    store.mark_cancelled("acme", row.key, "again")
    cancelled = store.outbox_row("acme", row.key)
    assert cancelled is not None
    assert (cancelled.state, cancelled.last_error) == ("cancelled", "F1 paid since planning")
    assert store.history("acme", "C1") == []
    assert dump(store)["journal_lines"] == []
    assert enqueue(store, [item]) == 0


def test_a_cancelled_row_that_did_go_out_is_marked_sent_and_journaled_again(
    store: Store,
) -> None:
    item = action()
    enqueue(store, [item])
    (row,) = store.claim("acme", "w1", 1, LEASE, NOW)
    store.mark_cancelled("acme", row.key, "user cancelled")
    store.mark_sent("acme", row.key, "<m>", NOW)
    assert store.history("acme", "C1") == [record(item, NOW.date())]


def test_a_dry_run_row_is_never_marked_sent(store: Store) -> None:
    enqueue(store, [action()], dry_run=True)
    with pytest.raises(StoreError, match="dry run"):
        store.mark_sent("acme", action().key, "<m>", NOW)


def test_an_unknown_key_is_an_error(store: Store) -> None:
    for mark in (
        lambda: store.mark_sent("acme", "nope", "<m>", NOW),
        lambda: store.mark_cancelled("acme", "nope", "x"),
        lambda: store.mark_failed("acme", "nope", "x", NOW, 3),
        lambda: store.record_attempt("acme", "nope", "<m>", NOW),
    ):
        with pytest.raises(UnknownKey, match="no outbox row 'nope'"):
            mark()
    assert store.outbox_row("acme", "nope") is None


def test_outbox_counts_lists_every_state(store: Store) -> None:
    enqueue(store, actions(5))
    enqueue(store, [action("D1", (("G1", 1),))], dry_run=True)
    rows = store.claim("acme", "w1", 6, LEASE, NOW)
    by_customer = {r.customer_id: r.key for r in rows}
    store.mark_sent("acme", by_customer["C0"], "<m>", NOW)
    store.mark_cancelled("acme", by_customer["C1"], "paid")
    store.mark_failed("acme", by_customer["C2"], "bounce", NOW, 1)
    store.mark_dry_run("acme", by_customer["D1"], "s", "b", NOW)
    assert store.outbox_counts("acme") == {
        "pending": 0,
        "claimed": 2,
        "sent": 1,
        "cancelled": 1,
        "failed": 1,
        "dry_run": 1,
    }
    assert store.outbox_counts("globex") == dict.fromkeys(
        ("pending", "claimed", "sent", "cancelled", "failed", "dry_run"), 0
    )
    assert [r.state for r in store.outbox_rows("acme", ["sent", "failed"])] == ["sent", "failed"]


def test_the_journal_date_is_the_planning_day(store: Store) -> None:
    """The journal entry carries ``today`` as given (the company's date), not the clock."""
    with store.transaction() as tx:
        store.enqueue(tx, "acme", [action()], dry_run=False, today=date(2026, 1, 5))
    assert [r.date for r in store.history("acme", "C1")] == [date(2026, 1, 5)]

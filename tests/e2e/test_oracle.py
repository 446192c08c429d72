"""The fault suite's verdicts find what they must: a missing batch, sample, value, tail, outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plant.contract import Death
from tests.e2e.oracle import (
    LedgerRow,
    Reading,
    SampleKey,
    Seen,
    SeenBatch,
    Stored,
    delivery_problems,
    freeze_problems,
    open_outages,
    stored_value,
    unexplained_holes,
)

T0 = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
SESSION = 1000


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def seen_batches(count: int, session: int = SESSION) -> Seen:
    """``count`` batches of one sample each, one second apart."""
    seen = Seen()
    for seq in range(count):
        seen.batches[(session, seq)] = SeenBatch(session, seq, 0.0,
                                                 {("p1", at(seq)): (float(seq), "good")})
    return seen


def stored_as(seen: Seen, drop: frozenset[int] = frozenset(), ledger: tuple[LedgerRow, ...] = ()
              ) -> Stored:
    """The database as it would be if it held what the tap saw, less the seqs in ``drop``."""
    kept = {k: b for k, b in seen.batches.items() if k[1] not in drop}
    samples = {key: r for b in kept.values() for key, r in b.samples.items()}
    return Stored({k: len(b.samples) for k, b in kept.items()}, len(kept), samples,
                  len(samples), ledger)


def test_a_complete_run_has_no_problem() -> None:
    seen = seen_batches(10)
    assert delivery_problems(seen, stored_as(seen)) == []


def test_a_missing_batch_is_named_by_session_and_seq() -> None:
    seen = seen_batches(10)
    problems = delivery_problems(seen, stored_as(seen, drop=frozenset({3, 4, 5, 8})))
    assert any("4 of 10 batches missing" in p and "seq 3-5, 8" in p for p in problems)
    assert any("4 samples seen by the tap missing" in p for p in problems)


def test_batches_declared_lost_are_not_owed_unless_the_tap_saw_them() -> None:
    seen = seen_batches(10)
    for seq in (2, 3, 4):
        del seen.batches[(SESSION, seq)]  # dropped by the spool while the broker was down
    seen.lost_through[SESSION] = 4
    assert delivery_problems(seen, stored_as(seen)) == []
    # a declared seq the tap did see was published, and must be stored
    seen.batches[(SESSION, 3)] = SeenBatch(SESSION, 3, 0.0, {("p1", at(3)): (3.0, "good")})
    problems = delivery_problems(seen, stored_as(seen, drop=frozenset({3})))
    assert any("1 of 10 batches missing" in p and "seq 3" in p for p in problems)
    # and one above the declaration is owed as ever
    problems = delivery_problems(seen, stored_as(seen, drop=frozenset({5})))
    assert any("seq 5" in p for p in problems)


def test_a_lost_tail_counts_up_to_the_clean_deaths_last_seq() -> None:
    seen = seen_batches(5)
    seen.deaths.append(Death(station="s", session=SESSION, bdseq=0, clean=True, last_seq=7))
    problems = delivery_problems(seen, stored_as(seen))
    assert any("3 of 8 batches missing" in p and "seq 5-7" in p for p in problems)


def test_a_batch_the_tap_missed_still_counts_when_a_later_one_is_stored() -> None:
    seen = seen_batches(6)
    stored = stored_as(seen, drop=frozenset({2}))
    del seen.batches[(SESSION, 2)]  # neither the tap nor the database has seq 2
    assert any("seq 2" in p for p in delivery_problems(seen, stored))


def test_a_changed_value_or_quality_is_a_problem() -> None:
    seen = seen_batches(3)
    stored = stored_as(seen)
    stored.samples[("p1", at(1))] = (1.0, "bad")
    assert any("1 stored with another value" in p for p in delivery_problems(seen, stored))


def test_a_sample_lost_inside_a_stored_batch_is_a_problem() -> None:
    seen = seen_batches(3)
    full = stored_as(seen)
    samples = dict(full.samples)
    del samples[("p1", at(2))]
    stored = Stored(full.batches, full.batch_rows, samples, len(samples), ())
    problems = delivery_problems(seen, stored)
    assert any("carried 3 samples, the database holds 2" in p for p in problems)


def test_values_are_compared_as_the_database_stores_them() -> None:
    assert stored_value(True) == 1.0 and stored_value(7) == 7.0 and stored_value(None) is None


def row(kind: str, session: int | None = SESSION, end: datetime | None = None,
        filled: bool = False, point: str | None = None, start: datetime | None = T0) -> LedgerRow:
    return LedgerRow(kind, session, point, start, end, filled, None)


def test_open_outages_are_unfilled_gaps_and_deaths_without_end() -> None:
    ledger = (row("seq_gap"), row("seq_gap", filled=True), row("session_death"),
              row("session_death", session=2000, end=at(5)), row("bad_quality", point="p1"),
              row("session_death", session=3000))
    stored = Stored({}, 0, {}, 0, ledger)
    assert open_outages(stored, allowed_sessions=(3000,)) == [ledger[0], ledger[2]]


def test_a_gap_the_gateway_declared_lost_is_not_open() -> None:
    dropped = LedgerRow("seq_gap", SESSION, None, T0, at(5), False, None, (2, 4))
    beyond = LedgerRow("seq_gap", SESSION, None, T0, at(9), False, None, (4, 7))
    stored = Stored({}, 0, {}, 0, (dropped, beyond))
    assert open_outages(stored, declared_lost={SESSION: 4}) == [beyond]
    assert open_outages(stored, declared_lost={SESSION + 1: 9}) == [dropped, beyond]


def test_a_silence_is_a_hole_unless_a_bad_sample_or_a_ledger_span_explains_it() -> None:
    samples = {("p1", at(0)): (1.0, "good"), ("p1", at(1)): (1.0, "good"),
               ("p1", at(6)): (None, "bad"), ("p1", at(20)): (1.0, "good"),
               ("p1", at(30)): (1.0, "good"), ("p1", at(31)): (1.0, "good")}
    window = (at(0), at(40))
    stored = Stored({}, 0, samples, len(samples), ())
    holes = unexplained_holes(stored, ["p1"], 2.0, window)
    assert [(h.after, h.before) for h in holes] == [(at(1), at(6)), (at(20), at(30))]
    covered = Stored({}, 0, samples, len(samples),
                     (row("bad_quality", point="p1", start=at(1), end=at(6)),
                      row("session_death", start=at(19), end=at(30))))
    assert unexplained_holes(covered, ["p1"], 2.0, window) == []


def test_a_frozen_device_must_read_bad_and_never_good_while_frozen() -> None:
    honest = {("p1", at(0)): (1.0, "good"), ("p1", at(1.2)): (None, "bad"),
              ("p1", at(6)): (1.0, "good")}
    frozen = (at(0.9), at(5))
    margin = timedelta(seconds=0.5)
    assert freeze_problems(Stored({}, 0, honest, 3, ()), ["p1"], frozen, margin) == []
    stale: dict[SampleKey, Reading] = {("p1", at(0)): (1.0, "good"), ("p1", at(1.2)): (1.0, "good"),
             ("p1", at(2.2)): (1.0, "good"), ("p1", at(6)): (1.0, "good")}
    assert freeze_problems(Stored({}, 0, stale, 4, ()), ["p1"], frozen, margin) == [
        "p1: no bad sample while its device was frozen",
        f"p1: 1 good sample(s) while its device was frozen, first at {at(2.2).isoformat()}"]

"""A station's stream as the controller sees it: latest samples, liveness, report by exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.feed import StationFeed, grid_step_s
from plant.contract import Birth, DataBatch, Death, Quality, Sample

T0 = datetime(2027, 1, 10, 6, tzinfo=UTC)


def _batch(seq: int, *samples: tuple[str, float, datetime], historical: bool = False
           ) -> DataBatch:
    return DataBatch(station="s", session=1, seq=seq, historical=historical,
                     samples=tuple(Sample(p=p, t=t, v=v) for p, v, t in samples))


def _birth(bdseq: int) -> Birth:
    return Birth(station="s", session=bdseq, bdseq=bdseq, t=T0, gateway="gw", name="S",
                 kind="k", timezone="UTC", site_hash="0", points=())


def test_a_replayed_older_sample_never_overwrites_a_newer_one() -> None:
    feed = StationFeed("s")
    feed.take(_batch(1, ("a", 2.0, T0 + timedelta(seconds=10))))
    feed.take(_batch(0, ("a", 1.0, T0), historical=True))
    assert feed.latest["a"].v == 2.0


def test_liveness_follows_the_birth_and_death_of_the_same_connection() -> None:
    feed = StationFeed("s")
    assert not feed.alive
    feed.take_birth(_birth(4))
    assert feed.alive
    feed.take_death(Death(station="s", session=3, bdseq=3))  # a late will of an older one
    assert feed.alive
    feed.take_death(Death(station="s", session=4, bdseq=4))
    assert not feed.alive
    feed.take_birth(_birth(3))  # an older birth arriving late changes nothing
    assert not feed.alive


def test_an_unchanged_point_holds_at_the_latest_batch_while_the_gateway_lives() -> None:
    feed = StationFeed("s", refresh_s=300.0)
    feed.take_birth(_birth(1))
    feed.take(_batch(0, ("flat", 1.0, T0), ("moving", 5.0, T0)))
    feed.take(_batch(1, ("moving", 6.0, T0 + timedelta(seconds=200))))
    now = feed.current()
    assert now["flat"].t == T0 + timedelta(seconds=200)  # not restated: it did not change
    assert now["flat"].v == 1.0 and now["flat"].q is Quality.GOOD
    # past a full refresh (with its margin) a point the gateway stopped restating stays old
    feed.take(_batch(2, ("moving", 7.0, T0 + timedelta(seconds=400))))
    assert feed.current()["flat"].t == T0
    feed.take_death(Death(station="s", session=1, bdseq=1))
    assert feed.current()["moving"].t == T0 + timedelta(seconds=400)


def test_the_gateway_gone_nothing_is_dated_forward() -> None:
    feed = StationFeed("s")
    feed.take(_batch(0, ("a", 1.0, T0)))
    feed.take(_batch(1, ("b", 1.0, T0 + timedelta(seconds=5))))
    assert feed.current()["a"].t == T0  # no birth: not known to be alive


def test_history_grids_have_about_thirty_buckets_in_whole_minutes_from_a_minute() -> None:
    assert grid_step_s(60.0) == 2.0
    assert grid_step_s(3600.0) == 120.0
    assert grid_step_s(86400.0) == 2880.0
    assert grid_step_s(193 * 86400.0) % 60 == 0

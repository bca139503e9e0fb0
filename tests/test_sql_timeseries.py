"""Time series in a table: a compound key (series, ts) answers "latest N" and window
queries by walking the ordered key backwards, touching only the rows it returns."""

import random

import pytest

SERIES = 1000
EVENTS = 1_000_000


@pytest.fixture(scope="module")
def events():
    import alchemy
    db = alchemy.Database()
    db.sql("CREATE TABLE events (series INT, ts BIGINT, payload TEXT, PRIMARY KEY (series, ts))")
    rng = random.Random(7)
    expected: dict[int, list] = {s: [] for s in range(SERIES)}
    batch = []
    for n in range(EVENTS):
        series, ts = n % SERIES, n // SERIES * 10 + rng.randrange(10)
        batch.append((series, ts, f"e{n}"))
        expected[series].append((ts, f"e{n}"))
        if len(batch) == 500:
            _insert(db, batch)
            batch = []
    _insert(db, batch)
    return db, expected


def _insert(db, batch):
    if batch:
        marks = ", ".join(["(?, ?, ?)"] * len(batch))
        db.sql(f"INSERT INTO events VALUES {marks}", *[v for row in batch for v in row])


@pytest.mark.slow
def test_latest_and_window_queries_match_a_straight_computation(events):
    db, expected = events
    assert db.sql("SELECT COUNT(*) FROM events") == [(EVENTS,)]
    rng = random.Random(11)
    for _ in range(200):
        series = rng.randrange(SERIES)
        lo = rng.randrange(0, 9000)
        hi = lo + rng.randrange(0, 2000)
        got = db.sql("SELECT ts, payload FROM events WHERE series = ? AND ts BETWEEN ? AND ? "
                     "ORDER BY ts DESC LIMIT 100", series, lo, hi)
        want = sorted((e for e in expected[series] if lo <= e[0] <= hi), reverse=True)[:100]
        assert got == want
        window = db.sql("SELECT ts FROM events WHERE series = ? AND ts >= ? AND ts < ? "
                        "ORDER BY ts", series, lo, hi)
        assert window == [(ts,) for ts, _ in sorted(expected[series]) if lo <= ts < hi]


@pytest.mark.slow
def test_latest_walks_the_key_backwards(events):
    db, _ = events
    plan = [line for (line,) in db.sql(
        "EXPLAIN SELECT ts, payload FROM events WHERE series = 7 AND ts BETWEEN 10 AND 5000 "
        "ORDER BY ts DESC LIMIT 100")]
    assert "backwards" in plan[0] and "PRIMARY KEY" in plan[0].upper()
    assert "ORDER BY satisfied by the access order" in plan
    assert "LIMIT stops the walk early" in plan

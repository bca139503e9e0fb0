"""alchemy.zset.ZSet against a simple model (a dict, sorted on demand), after random operations."""

import random

import pytest

from alchemy.zset import LEX_MAX, LEX_MIN, ZSet

MEMBERS = [bytes([c]) * n for c in b"abcdefgh" for n in (1, 2)]
SCORES = [-float("inf"), -2.5, -0.0, 0.0, 1.0, 1.5, 3.0, float("inf")]


def ordered(model: dict) -> list:
    return sorted(((m, s) for m, s in model.items()), key=lambda pair: (pair[1], pair[0]))


def in_score_range(score, low, low_open, high, high_open) -> bool:
    above = score > low if low_open else score >= low
    below = score < high if high_open else score <= high
    return above and below


def check_queries(zset: ZSet, model: dict, rng: random.Random) -> None:
    expected = ordered(model)
    assert zset.items() == expected
    assert zset.items(reverse=True) == expected[::-1]
    assert len(zset) == len(model)
    for member in MEMBERS:
        assert zset.score(member) == model.get(member)
        rank = zset.rank(member)
        assert rank == (expected.index((member, model[member])) if member in model else None)
    low, high = sorted(rng.sample(SCORES, 2))
    low_open, high_open = rng.random() < 0.5, rng.random() < 0.5
    start, stop = zset.score_span(low, low_open, high, high_open)
    assert zset.items(start, stop) == [
        (m, s) for m, s in expected if in_score_range(s, low, low_open, high, high_open)]
    if expected:
        i = rng.randrange(len(expected))
        assert zset.at(i) == expected[i]


def test_random_operations_match_model():
    rng = random.Random(1234)
    for _ in range(30):
        zset, model = ZSet(), {}
        for _ in range(300):
            op = rng.random()
            member = rng.choice(MEMBERS)
            if op < 0.5:
                score = rng.choice(SCORES)
                was_new = member not in model
                assert zset.add(member, score) is was_new
                if was_new or model[member] != score:
                    model[member] = score
            elif op < 0.7:
                assert zset.remove(member) is (model.pop(member, None) is not None)
            elif op < 0.8:
                count = rng.randrange(4)
                highest = rng.random() < 0.5
                expected = ordered(model)
                expected = expected[::-1][:count] if highest else expected[:count]
                assert zset.pop(count, highest) == expected
                for m, _ in expected:
                    del model[m]
            elif op < 0.9:
                n = len(model)
                start, stop = sorted((rng.randrange(n + 1), rng.randrange(n + 1)))
                doomed = ordered(model)[start:stop]
                assert zset.delete_span(start, stop) == len(doomed)
                for m, _ in doomed:
                    del model[m]
            else:
                copy = zset.copy()
                copy.add(b"only-in-copy", 0.0)
                assert b"only-in-copy" not in zset
            zset.check()
            if rng.random() < 0.3:  # otherwise writes pile up unsorted for the next read
                check_queries(zset, model, rng)


def test_lex_spans_with_equal_scores():
    rng = random.Random(99)
    names = [bytes([rng.randrange(97, 101)]) * rng.randrange(1, 4) for _ in range(40)]
    zset = ZSet()
    for name in names:
        zset.add(name, 0.0)
    members = sorted(set(names))
    bounds = [LEX_MIN, LEX_MAX, b"", b"a", b"aa", b"b", b"bbb", b"c", b"d", b"e"]
    for low in bounds:
        for high in bounds:
            for low_open in (False, True):
                for high_open in (False, True):
                    start, stop = zset.lex_span(low, low_open, high, high_open)
                    got = [m for m, _ in zset.items(start, stop)]
                    want = [m for m in members
                            if lex_above(m, low, low_open) and lex_below(m, high, high_open)]
                    assert got == want, (low, low_open, high, high_open)


def lex_above(member, bound, open_) -> bool:
    if bound is LEX_MIN:
        return True
    if bound is LEX_MAX:
        return False
    return member > bound if open_ else member >= bound


def lex_below(member, bound, open_) -> bool:
    if bound is LEX_MAX:
        return True
    if bound is LEX_MIN:
        return False
    return member < bound if open_ else member <= bound


def test_from_scores_orders_and_is_independent():
    scores = {b"b": 2.0, b"a": 2.0, b"c": -1.0}
    zset = ZSet.from_scores(dict(scores))
    zset.check()
    assert zset.items() == [(b"c", -1.0), (b"a", 2.0), (b"b", 2.0)]
    assert zset.rank(b"b") == 2


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_pop_more_than_present(size):
    zset = ZSet.from_scores({str(i).encode(): float(i) for i in range(size)})
    popped = zset.pop(size + 5, highest=True)
    assert [s for _, s in popped] == [float(i) for i in reversed(range(size))]
    assert len(zset) == 0
    zset.check()

"""SortedColumns against a simple model: a sorted Python list of entries."""

import pickle
import random
from array import array
from itertools import accumulate

import pytest

from alchemy.storage import columns
from alchemy.storage.columns import SortedColumns


def _order(entry):
    return tuple((0, 0) if v is None else (1, v) for v in entry)


def _check(tree: SortedColumns, model: dict) -> None:
    expected = sorted(model, key=_order)
    got = list(tree.iterate(tree.first(), tree.end()))
    assert [e for e, _ in got] == expected
    if tree.has_payload:
        assert [p for _, p in got] == [model[e] for e in expected]
    assert len(tree) == len(model)
    backwards = [e for e, _ in tree.iterate(tree.first(), tree.end(), reverse=True)]
    assert backwards == expected[::-1]


@pytest.fixture(autouse=True)
def small_leaves(monkeypatch):
    # Small leaves make splits, merges and leaf boundaries happen with few entries.
    monkeypatch.setattr(columns, "LOAD", 4)


@pytest.mark.parametrize("nullable", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_primary_map_random(seed, nullable):
    rng = random.Random(seed)
    tree = SortedColumns("i", payload=True, nullable=nullable)
    model = {}
    for step in range(3000):
        key = (rng.randrange(500),)
        action = rng.random()
        if action < 0.5:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(12)))
            assert tree.insert(key, payload) == (key not in model)
            model.setdefault(key, payload)
        elif action < 0.7:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(12)))
            assert tree.replace(key, payload) == (key in model)
            if key in model:
                model[key] = payload
        else:
            assert tree.delete(key) == (key in model)
            model.pop(key, None)
        assert tree.get(key) == model.get(key)
        if step % 300 == 0:
            _check(tree, model)
            _check_payloads(tree, model, rng)
            _check_ends(tree)
    _check(tree, model)


def _check_payloads(tree: SortedColumns, model: dict, rng: random.Random) -> None:
    """payloads() of keys in order, backwards and shuffled, present or not, as a list or an
    array, as get() finds them one by one; and of runs of entries side by side, as an index
    walk over rows inserted together gives them."""
    def read(blob, key, start, end):
        return key, blob[start:end]

    keys = sorted({(rng.randrange(520),) for _ in range(60)})
    for order in (keys, keys[::-1], rng.sample(keys, len(keys))):
        values = [k[0] for k in order]
        for run in (values, array("q", values)):
            found = tree.payloads([[run]], read)
            assert list(found) == [(k, model[k]) for k in order if k in model]
    low, high = sorted(rng.randrange(520) for _ in range(2))
    runs = list(tree.tail_runs(tree.bound((low,)), tree.bound((high,), right=True), 0))
    assert list(tree.payloads(runs, read)) == \
        [((v,), model[(v,)]) for v in range(low, high + 1) if (v,) in model]


@pytest.mark.parametrize("seed", range(5))
def test_index_with_nulls_random(seed):
    rng = random.Random(seed)
    tree = SortedColumns("oi")  # (nullable text value, int primary key)
    model = {}
    for _ in range(3000):
        value = rng.choice([None, "a", "b", "c", "dd", "e"])
        entry = (value, rng.randrange(100))
        if rng.random() < 0.6:
            assert tree.insert(entry) == (entry not in model)
            model[entry] = None
        else:
            assert tree.delete(entry) == (entry in model)
            model.pop(entry, None)
    _check(tree, model)
    for value in [None, "a", "b", "zz"]:
        start, stop = tree.bound((value,)), tree.bound((value,), right=True)
        found = [e for e, _ in tree.iterate(start, stop)]
        assert found == sorted((e for e in model if e[0] == value), key=_order)
    for key in [(), (None,), ("a",), ("zz",), ("b", 7), (None, 3), ("c", None), ("0",)]:
        assert tree.span(key) == (tree.bound(key), tree.bound(key, right=True))


@pytest.mark.parametrize("nullable", [False, True])
def test_span_is_both_bounds(nullable):
    """span(key) is (bound(key), bound(key, right=True)) for prefixes that end inside a
    leaf, at a leaf's end, past the last entry or before the first."""
    tree = SortedColumns("ii", nullable=nullable)
    rng = random.Random(3)
    for _ in range(400):
        tree.insert((rng.randrange(40), rng.randrange(30)))
    keys = [(), (-1,), (99,), (None,)] + [(v,) for v in range(41)] + \
        [(v, w) for v in range(0, 41, 3) for w in (-1, 0, 5, 29, 30)]
    for key in keys:
        assert tree.span(key) == (tree.bound(key), tree.bound(key, right=True)), key
    assert SortedColumns("ii").span((1,)) == ((0, 0), (0, 0))


@pytest.mark.parametrize("nullable", [False, True])
def test_ranges_and_ranks(nullable):
    tree = SortedColumns("ii", nullable=nullable)
    model = {}
    rng = random.Random(7)
    for _ in range(2000):
        entry = (rng.randrange(50), rng.randrange(1000))
        tree.insert(entry)
        model[entry] = None
    ordered = sorted(model)
    for rank in range(0, len(ordered), 37):
        where = tree.at(rank)
        assert tree.rank(where) == rank
        assert next(tree.iterate(where, tree.end()))[0] == ordered[rank]
    for low, high in [(3, 9), (0, 0), (49, 60), (-5, 2)]:
        start, stop = tree.bound((low,)), tree.bound((high,), right=True)
        assert [e for e, _ in tree.iterate(start, stop)] == \
            [e for e in ordered if low <= e[0] <= high]
        assert tree.rank(stop) - tree.rank(start) == sum(low <= e[0] <= high for e in ordered)


def test_narrow_arrays_widen_for_large_values():
    tree = SortedColumns("ii", payload=True, nullable=False)
    tree.insert((1, 2), b"small")
    tree.insert((2**40, -2**62), b"x" * 70_000)  # past int32 keys and 16-bit offsets
    tree.insert((3, 4), b"y" * 10)
    assert tree.get((2**40, -2**62)) == b"x" * 70_000
    assert tree.get((3, 4)) == b"y" * 10 and tree.get((1, 2)) == b"small"
    assert tree.replace((1, 2), b"z" * 66_000) and tree.get((1, 2)) == b"z" * 66_000
    assert [e for e, _ in tree.iterate(tree.first(), tree.end())] == \
        [(1, 2), (3, 4), (2**40, -2**62)]
    keyed = SortedColumns("i", payload=True, nullable=False)  # a table's one-part key
    for key, payload in [(1, b"a"), (2**40, b"x" * 70_000), (-2**62, b"b"), (5, b"c" * 9)]:
        assert keyed.insert((key,), payload) and not keyed.insert((key,), b"again")
    assert [(e, bytes(p)) for e, p in keyed.iterate(keyed.first(), keyed.end())] == \
        [((-2**62,), b"b"), ((1,), b"a"), ((5,), b"c" * 9), ((2**40,), b"x" * 70_000)]


def _check_ends(tree: SortedColumns) -> None:
    """Each leaf's ends are the running totals of its payloads' lengths."""
    for leaf in tree._leaves:
        payloads = [leaf.payload(j) for j in range(len(leaf))]
        assert list(leaf.ends) == list(accumulate(map(len, payloads)))
        assert b"".join(payloads) == leaf.blob


def test_payload_length_changes_mid_leaf_shift_the_ends_after_them():
    tree = SortedColumns("i", payload=True, nullable=False)
    model = {(k,): bytes([k]) * k for k in range(20)}
    for key, payload in model.items():
        tree.insert(key, payload)
    # Grow past 16-bit offsets in the middle of a leaf, shrink back, delete, insert between.
    for key, payload in [((9,), b"g" * 70_000), ((10,), b""), ((9,), b"s"), ((2,), b"t" * 5)]:
        assert tree.replace(key, payload)
        model[key] = payload
        _check_ends(tree)
    assert tree.delete((5,)) and tree.insert((5,), b"back") and tree.insert((100,), b"x" * 66_000)
    model[(5,)], model[(100,)] = b"back", b"x" * 66_000
    _check_ends(tree)
    _check(tree, model)


def test_leaf_saved_with_lengths_loads_with_ends():
    tree = SortedColumns("i", payload=True, nullable=False)
    for k in range(6):
        tree.insert((k,), b"p" * k)
    leaf = tree._leaves[0]
    lens = array("H", (e - s for s, e in zip([0, *leaf.ends], leaf.ends)))
    state = {"parts": leaf.parts, "nulls": leaf.nulls, "lens": lens, "blob": leaf.blob,
             "ends": None}
    loaded = leaf.__class__.__new__(leaf.__class__)
    loaded.__setstate__((None, state))
    assert [loaded.payload(j) for j in range(len(leaf))] == \
        [b"p" * k for k in range(len(leaf))]
    assert pickle.loads(pickle.dumps(tree)).get((4,)) == b"pppp"


def test_first_null_arrives_in_a_tree_of_many_leaves():
    tree = SortedColumns("ii")  # (nullable value, primary key)
    model = {(v % 7, v): None for v in range(60)}
    for entry in model:
        tree.insert(entry)
    # Before any NULL: a NULL bound falls where its prefix starts, nothing equals it.
    assert tree.bound((None,)) == tree.bound((None,), right=True) == (0, 0)
    assert tree.bound((3, None), right=True) == tree.bound((3,))
    assert not tree.delete((None, 5)) and tree.find((None, 5)) is None
    for entry in [(None, 5), (3, None), (None, None), (None, 1)]:
        assert tree.insert(entry)
        model[entry] = None
    _check(tree, model)
    start, stop = tree.bound((None,)), tree.bound((None,), right=True)
    assert [e for e, _ in tree.iterate(start, stop)] == [(None, None), (None, 1), (None, 5)]
    assert tree.delete((3, None)) and tree.delete((3, 3))
    del model[(3, None)], model[(3, 3)]
    _check(tree, model)

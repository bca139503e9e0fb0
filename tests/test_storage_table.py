"""Table and Index against a model (a dict of rows), constraints, schema changes."""

import random

import pytest

from alchemy.storage.table import Column, ConstraintError, Table


def _users() -> Table:
    return Table("users", [Column("id", "INT"), Column("email", "TEXT"),
                           Column("age", "INT"), Column("score", "FLOAT")], [0])


def _index_rows(table: Table, name: str, value) -> list:
    index = table.indexes[name]
    tree = index.tree
    runs = index.key_runs(tree.bound((value,)), tree.bound((value,), right=True))
    return [table.get(k) for run in runs for k in zip(*run)]


def test_insert_get_delete_and_indexes_agree_with_model():
    rng = random.Random(3)
    table = _users()
    table.add_index("by_age", [2])
    model: dict[int, list] = {}
    for _ in range(3000):
        key = rng.randrange(300)
        action = rng.random()
        row = [key, f"user{rng.randrange(10**6)}@x", rng.choice([None, 20, 30, 40]),
               rng.choice([None, 1.5, -2.0])]
        if action < 0.5:
            if key in model:
                with pytest.raises(ConstraintError):
                    table.insert(row)
            else:
                table.insert(row)
                model[key] = row
        elif action < 0.75 and key in model:
            new = list(row)
            new[0] = rng.randrange(300)
            if new[0] != key and new[0] in model:
                with pytest.raises(ConstraintError):
                    table.update(model[key], new)
            else:
                table.update(model[key], new)
                del model[key]
                model[new[0]] = new
        else:
            assert table.delete((key,)) == model.pop(key, None)
    assert list(table.scan()) == [model[k] for k in sorted(model)]
    for age in (None, 20, 30, 40, 50):
        expected = sorted((r for r in model.values() if r[2] == age), key=lambda r: r[0])
        assert _index_rows(table, "by_age", age) == expected


def test_unique_index_refuses_duplicates_and_changes_nothing():
    table = _users()
    table.add_index("by_email", [1], unique=True)
    table.insert([1, "a@x", 30, None])
    table.insert([2, None, 30, None])
    table.insert([3, None, 31, None])  # NULLs never collide
    with pytest.raises(ConstraintError, match="by_email"):
        table.insert([4, "a@x", 1, None])
    assert table.get((4,)) is None and len(table) == 3
    with pytest.raises(ConstraintError):
        table.update(table.get((2,)), [2, "a@x", 30, None])
    assert table.get((2,)) == [2, None, 30, None]
    with pytest.raises(ConstraintError):
        table.add_index("by_age", [2], unique=True)
    assert "by_age" not in table.indexes


def test_compound_primary_key_and_range():
    table = Table("events", [Column("series", "INT"), Column("ts", "INT"),
                             Column("payload", "TEXT")], [0, 1])
    for series in range(5):
        for ts in range(100):
            table.insert([series, ts * 10, f"e{series}-{ts}"])
    rows = table.rows
    start, stop = rows.bound((3, 200)), rows.bound((3, 300), right=True)
    got = list(table.scan(start, stop, reverse=True))
    assert [r[1] for r in got] == list(range(300, 199, -10))
    assert all(r[0] == 3 for r in got)


def test_added_column_reads_null_then_values():
    table = _users()
    table.insert([1, "a", 1, 1.0])
    table.add_column(Column("nick", "TEXT"))
    assert table.get((1,)) == [1, "a", 1, 1.0, None]
    table.insert([2, "b", 2, 2.0, "bee"])
    assert table.get((2,))[-1] == "bee"


def test_auto_increment_tracks_highest_integer_key():
    table = _users()
    assert table.next_id() == 1
    table.insert([41, "a", None, None])
    table.insert([7, "b", None, None])
    assert table.next_id() == 42

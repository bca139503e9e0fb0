"""SortedColumns: a sorted sequence of fixed-arity entries, stored column-wise in leaves.

The storage under SQL tables: the primary key map (entries = key parts, each carrying a row
as bytes) and every secondary index (entries = indexed values + primary key parts, no
payload). It knows nothing of SQL.

Why columns and leaves: a Python object per entry costs 30-60 bytes before any data; here an
INT part costs 8 bytes in an array('q'), a row 2 bytes of offset plus its bytes in one blob
per leaf. Leaves hold LOAD..2*LOAD entries (split when larger) and are found by bisecting
the list of each leaf's last entry, as sortedcontainers does with its sublists.

A leaf keeps where each payload ends in its blob (`ends`, cumulative), not each payload's
length: a read slices the blob at once, and a write that changes a length shifts the ends
after it with a few calls in C (_shift) instead of leaving an index to rebuild on the next
read (lengths kept instead made every write cost a rebuild of ~200 sums in Python, 10 us).

Entries order lexicographically by part, NULL (None) first, as SQLite orders them. A part
kind is "i" (64-bit int), "f" (float) or "o" (any ordered Python object: str, bytes, tuple).
A leaf gets a NULL-flag array for a part only once a NULL is stored there.

Complexity (n entries, L = LOAD): find O(log n); insert/delete O(log n + L) (memmove in C);
in-order iteration O(1) per entry; a payload read O(1), a payload write O(L) in C; position
of an entry and entry at a position O(log n) after the first positional call following a
size change, which rebuilds an O(n/L) index.
"""

from array import array
from bisect import bisect_left, bisect_right
from itertools import accumulate, chain, repeat
import sys

LOAD = 128
_ZERO = {"i": 0, "f": 0.0, "o": b""}


class _Top:
    """Greater than any value: appended to a key prefix, it sorts after every entry
    starting with that prefix (right-bound searches)."""

    def __lt__(self, other) -> bool:
        return False

    def __gt__(self, other) -> bool:
        return True


_TOP = (_Top(),)


def _first(parts):
    return parts[0]


def _sort_key(parts) -> tuple:
    """Entries with NULL parts cannot be compared as they are: (0, 0) for NULL, (1, v)."""
    return tuple([(0, 0) if v is None else (1, v) for v in parts])


# Arrays start narrow and widen on the first value that does not fit: most keys fit in
# 32 bits and most leaves' payloads in 64 KiB, which halves what keys and offsets cost.
# A key column widens where an insert overflows it (_insert_part).
def _fitting(ends: array, top: int) -> array:
    """ends, or a copy with 32-bit items if top (the blob's new length) needs them."""
    if top < 2**16 or ends.typecode == "I":
        return ends
    return array("I", ends)


_ONE = {size: (1).to_bytes(size, sys.byteorder) for size in (2, 4)}
# Item size -> n -> the integer whose n digits of that size are each 1, as _shift adds
# them: made once per length (at most a leaf's entries, a few hundred) rather than from
# n bytes per call (that conversion cost an UPDATE moving a row 3,000 instructions).
_ONES: dict[int, dict[int, int]] = {2: {}, 4: {}}


def _shift(ends: array, j: int, delta: int) -> None:
    """Add delta to ends[j:] (an array of "H" or "I" that fits the results). The items
    are added as the digits of one integer, in C: no item leaves its range, so no carry
    or borrow crosses from one digit into the next."""
    n = len(ends) - j
    if n <= 0 or not delta:
        return
    size = ends.itemsize
    ones = _ONES[size].get(n)
    if ones is None:
        ones = _ONES[size][n] = int.from_bytes(_ONE[size] * n, sys.byteorder)
    tail = int.from_bytes(ends[j:], sys.byteorder) + delta * ones
    ends[j:] = array(ends.typecode, tail.to_bytes(n * size, sys.byteorder))


def _new_column(kind: str):
    if kind == "i":
        return array("i")
    if kind == "f":
        return array("d")
    return []


class _Leaf:
    __slots__ = ("parts", "nulls", "blob", "ends")

    def __init__(self, kinds: str, payload: bool):
        self.parts = [_new_column(k) for k in kinds]
        self.nulls: list = [None] * len(kinds)
        self.blob = bytearray() if payload else None
        self.ends = array("H") if payload else None  # where each payload ends in blob

    def __setstate__(self, state: tuple) -> None:
        slots = state[1]
        lens = slots.pop("lens", None)  # saved when leaves kept lengths, not ends
        if lens is not None:
            slots["ends"] = array("H" if len(slots["blob"]) < 2**16 else "I",
                                  accumulate(lens))
        for name, value in slots.items():
            setattr(self, name, value)

    def __len__(self) -> int:
        return len(self.parts[0])

    def entry(self, j: int) -> tuple:
        nulls = self.nulls
        if not any(nulls):
            return tuple([column[j] for column in self.parts])
        return tuple([None if nulls[p] is not None and not nulls[p][j] else column[j]
                      for p, column in enumerate(self.parts)])

    def payload(self, j: int) -> bytearray:
        """A copy of entry j's payload. A slice of the blob, not bytes: readers only
        decode it, and the conversion would cost as much as the slice."""
        ends = self.ends
        return self.blob[ends[j - 1] if j else 0:ends[j]]

    def span(self, key, right: bool | None = None) -> tuple[int, int]:
        """Where the entries starting with key (some leading parts) begin and end in
        this leaf; with right False or True, only that side (both items of the pair), at
        one bisect less."""
        lo, hi = 0, len(self.parts[0])
        last = len(key) - 1
        for p, value in enumerate(key):
            flags = self.nulls[p]
            if flags is not None:
                flag = 0 if value is None else 1
                lo, hi = bisect_left(flags, flag, lo, hi), bisect_right(flags, flag, lo, hi)
                if value is None:
                    continue
            elif value is None:
                return lo, lo  # no NULL here, and NULL sorts first
            column = self.parts[p]
            if p == last and right is not None:
                j = (bisect_right if right else bisect_left)(column, value, lo, hi)
                return j, j
            lo, hi = bisect_left(column, value, lo, hi), bisect_right(column, value, lo, hi)
            if lo == hi:
                break
        return lo, hi


class SortedColumns:
    """Sorted entries of `len(kinds)` parts, optionally each with a bytes payload."""

    # The last key found and where: a write of a row follows its read (UPDATE reads, then
    # replaces; DELETE reads, then deletes), so the second find of it costs a compare.
    # Cleared by every change that moves entries.
    _finger: tuple | None = None

    def __init__(self, kinds: str, payload: bool = False, nullable: bool = True):
        self.kinds = kinds
        self.has_payload = payload
        # Without NULLs, entries compare as plain tuples, and a one-part key as its value:
        # leaf lookups bisect a list of ints rather than of tuples of pairs. A nullable tree
        # compares plain tuples too until its first NULL arrives (_allow_nulls).
        self._scalar = len(kinds) == 1 and not nullable
        self._order = _first if self._scalar else tuple
        self._leaves: list[_Leaf] = []
        self._maxes: list[tuple] = []  # sort key of each leaf's last entry
        self._offsets: list[int] | None = None  # entries before each leaf, rebuilt lazily
        self._len = 0

    def __setstate__(self, state: dict) -> None:
        # Attribute by attribute, as __init__ sets them: pickle's default fills __dict__,
        # which leaves the instance without the inline attributes CPython's specialised
        # reads expect (an UPDATE's storage calls cost 14% more on a loaded tree).
        for name, value in state.items():
            setattr(self, name, value)

    def __len__(self) -> int:
        return self._len

    # -- finding -----------------------------------------------------------------------

    def bound(self, key, right: bool = False) -> tuple[int, int]:
        """(leaf, index) before the first entry starting with key (after the last if right)."""
        if not key:
            return self.end() if right else (0, 0)
        if self._order is tuple and None in key:  # no NULL stored, and NULL sorts first:
            return self.bound(key[:key.index(None)])  # where the prefix before it starts
        probe = self._order(key)
        if right and not self._scalar:  # a one-part key is unique: its leaf is the same
            probe += _TOP
        i = bisect_left(self._maxes, probe)
        if i == len(self._leaves):
            return (i - 1, len(self._leaves[i - 1])) if i else (0, 0)
        return i, self._leaves[i].span(key, right)[right]

    def span(self, key) -> tuple[tuple[int, int], tuple[int, int]]:
        """(bound(key), bound(key, right=True)), in one descent when the entries starting
        with key end in the leaf where they start (an equality's few entries, most often)."""
        if not key:
            return (0, 0), self.end()
        if self._order is tuple and None in key:
            start = self.bound(key)
            return start, start
        leaves = self._leaves
        i = bisect_left(self._maxes, self._order(key))
        if i == len(leaves):
            start = (i - 1, len(leaves[i - 1])) if i else (0, 0)
            return start, start
        lo, hi = leaves[i].span(key)
        if hi < len(leaves[i]):  # an entry after them in this leaf: they end here
            return (i, lo), (i, hi)
        return (i, lo), self.bound(key, right=True)

    def find(self, key: tuple) -> tuple[int, int] | None:
        """(leaf, index) of the entry equal to key (all parts), or None."""
        finger = self._finger
        if finger is not None and finger[0] == key:
            return finger[1]
        if self._scalar:  # a table's one-column primary key: the lookup every point query makes
            value = key[0]
            i = bisect_left(self._maxes, value)
            if i < len(self._leaves):
                column = self._leaves[i].parts[0]
                j = bisect_left(column, value)
                if j < len(column) and column[j] == value:
                    self._finger = key, (i, j)
                    return i, j
            return None
        if self._order is tuple and len(key) == len(self.kinds):
            if None in key:
                return None  # no entry holds a NULL
            i, j, found = self._plain_position(key)
            if not found:
                return None
            self._finger = key, (i, j)
            return i, j
        i, j = self.bound(key)
        if i < len(self._leaves):
            leaf = self._leaves[i]
            if j < len(leaf.parts[0]) and leaf.entry(j) == key:
                self._finger = key, (i, j)
                return i, j
        return None

    def _plain_position(self, entry: tuple) -> tuple[int, int, bool]:
        """_locate() in a tree of several parts that holds no NULL (an index without one),
        whose entries compare as plain tuples, for an entry without NULL: a bisect per
        part in the leaf, without bound() and the entry built to compare them (what an
        UPDATE moving an index entry, or a DELETE, spent most on in the index). The last
        part needs one bisect, not two: entries are unique, so at most one equals entry."""
        leaves = self._leaves
        i = bisect_left(self._maxes, tuple(entry))
        if i == len(leaves):
            return (i - 1, len(leaves[i - 1].parts[0]), False) if i else (0, 0, False)
        parts = leaves[i].parts
        lo, hi = 0, len(parts[0])
        last = len(parts) - 1
        for p in range(last):  # narrowed to the entries equal to entry up to its last part
            column, value = parts[p], entry[p]
            lo = bisect_left(column, value, lo, hi)
            hi = bisect_right(column, value, lo, hi)
        column, value = parts[last], entry[last]
        j = bisect_left(column, value, lo, hi)
        return i, j, j < hi and column[j] == value

    def _locate(self, entry: tuple) -> tuple[int, int, bool]:
        """(leaf, index) where an entry (all parts) goes, and whether it is there already.
        (find() has its own copy of the one-part lookup: a call more costs a point query
        about 1,000 instructions.)"""
        leaves = self._leaves
        if self._order is tuple and None not in entry:
            return self._plain_position(entry)
        if not self._scalar:
            i, j = self.bound(entry)
            return i, j, i < len(leaves) and j < len(leaves[i]) and leaves[i].entry(j) == entry
        value = entry[0]
        i = bisect_left(self._maxes, value)
        if i == len(leaves):
            return (i - 1, len(leaves[i - 1]), False) if i else (0, 0, False)
        column = leaves[i].parts[0]
        j = bisect_left(column, value)
        return i, j, j < len(column) and column[j] == value

    def get(self, key) -> bytes | None:
        """The payload of the entry equal to key, or None."""
        where = self.find(key)
        return None if where is None else self._leaves[where[0]].payload(where[1])

    def read(self, key, read):
        """read(blob, key, start, end) for the entry equal to key, whose payload is
        blob[start:end] (read in place, not copied), or None without one."""
        where = self.find(key)
        if where is None:
            return None
        leaf = self._leaves[where[0]]
        j = where[1]
        ends = leaf.ends
        return read(leaf.blob, key, ends[j - 1] if j else 0, ends[j])

    def payloads(self, runs, read):
        """read(blob, key, start, end) for each key that has an entry, whose payload is
        blob[start:end] (a reader such as a row decoder called here saves a generator step
        and a copy per entry). The keys come in runs, as tail_runs gives an index's
        primary keys: per run, one sequence per key part. A run of one-part keys that lie
        side by side in one leaf, as rows inserted together do (a parent's children), is
        read with one bisect and no Python step per entry; other keys one by one."""
        if not self._scalar:
            return self._each(chain.from_iterable(zip(*run) for run in runs), read)
        return chain.from_iterable(self._scalar_runs(runs, read))

    def _each(self, keys, read):
        for key in keys:
            found = self.read(key, read)
            if found is not None:
                yield found

    def _scalar_runs(self, runs, read):
        """Per run of one-part keys, an iterator of read's results for its entries."""
        maxes, leaves = self._maxes, self._leaves
        for (values,) in runs:
            first = values[0]
            i = bisect_left(maxes, first)
            if i < len(leaves):
                leaf = leaves[i]
                column = leaf.parts[0]
                j = bisect_left(column, first)
                n = len(values)
                if column[j:j + n] == values:  # entries j.. of this leaf, in this order
                    ends = leaf.ends
                    starts = ends[j - 1:j + n - 1] if j else chain((0,), ends[:n - 1])
                    yield map(read, repeat(leaf.blob), zip(values), starts, ends[j:j + n])
                    continue
            yield self._one_by_one(values, read)

    def _one_by_one(self, values, read):
        """read's results for one-part keys: each looked for in the slot after the last
        found first (keys in order mostly follow each other), then in that leaf, and only
        then in all leaves."""
        maxes, leaves = self._maxes, self._leaves
        i, j, column, leaf = -1, -1, (), None
        for value in values:
            j += 1
            if j >= len(column) or column[j] != value:
                if not column or not column[0] <= value <= maxes[i]:
                    i = bisect_left(maxes, value)
                    if i == len(leaves):
                        column = ()
                        continue
                    leaf = leaves[i]
                    column = leaf.parts[0]
                j = bisect_left(column, value)
                if j == len(column) or column[j] != value:
                    continue
            ends = leaf.ends
            yield read(leaf.blob, (value,), ends[j - 1] if j else 0, ends[j])

    # -- changing ----------------------------------------------------------------------

    def insert(self, entry: tuple, payload: bytes = b"") -> bool:
        """Add an entry; False (and no change) if an equal entry exists."""
        if self._scalar and self.has_payload:
            return self.insert_keyed(entry[0], payload)
        if self._order is tuple and None in entry:
            self._allow_nulls()
        if not self._leaves:
            self._leaves.append(_Leaf(self.kinds, self.has_payload))
            self._maxes.append(self._order(entry))
        plain = self._order is tuple  # no NULL stored, none in entry: no flags to keep
        i, j, found = self._plain_position(entry) if plain else self._locate(entry)
        if found:
            return False
        leaf = self._leaves[i]
        self._finger = None
        parts = leaf.parts
        for p, value in enumerate(entry):
            if plain:
                try:
                    parts[p].insert(j, value)
                    continue
                except OverflowError:  # (nothing inserted) _insert_part widens the column
                    pass
            self._insert_part(leaf, p, j, value)
        if self.has_payload:
            self._insert_payload(leaf, j, payload)
        size = len(parts[0])
        if j == size - 1:
            self._maxes[i] = self._order(entry)
        self._len += 1
        self._offsets = None
        if size > 2 * LOAD:
            self._split(i)
        return True

    def insert_keyed(self, value, payload: bytes) -> bool:
        """insert((value,), payload) into a table's rows under a one-part key (a tree of
        one part, with payloads, without NULLs), in one call: a table's INSERT makes one
        (the general steps, a call each, cost twice as much)."""
        maxes, leaves = self._maxes, self._leaves
        i = bisect_left(maxes, value)
        if i == len(leaves):  # after the last entry (a load in key order): the last leaf's end
            if i:
                i -= 1
                maxes[i] = value
            else:  # the first entry
                leaves.append(_Leaf(self.kinds, True))
                maxes.append(value)
            leaf = leaves[i]
            column = leaf.parts[0]
            j = len(column)
        else:
            leaf = leaves[i]
            column = leaf.parts[0]
            j = bisect_left(column, value)
            if column[j] == value:  # value <= this leaf's last: j is in the leaf
                return False
        try:
            column.insert(j, value)
        except OverflowError:  # past 32 bits: _insert_part widens the column
            self._insert_part(leaf, 0, j, value)
            column = leaf.parts[0]
        ends = leaf.ends
        if j == len(ends):
            leaf.blob += payload
            end = len(leaf.blob)
            if end >= 2**16:
                ends = leaf.ends = _fitting(ends, end)
            ends.append(end)
        else:
            self._insert_payload(leaf, j, payload)
        self._finger = self._offsets = None
        self._len += 1
        if len(column) > 2 * LOAD:
            self._split(i)
        return True

    def _allow_nulls(self) -> None:
        """From the first NULL on, compare entries by _sort_key, which orders None first."""
        self._order = _sort_key
        self._maxes = [_sort_key(m) for m in self._maxes]

    def _insert_part(self, leaf: _Leaf, p: int, j: int, value) -> None:
        flags = leaf.nulls[p]
        if value is None:
            if flags is None:
                flags = leaf.nulls[p] = array("b", [1]) * len(leaf.parts[p])
            flags.insert(j, 0)
            value = _ZERO[self.kinds[p]]
        elif flags is not None:
            flags.insert(j, 1)
        column = leaf.parts[p]
        try:
            column.insert(j, value)
        except OverflowError:  # past 32 bits: this leaf's column widens, once
            if column.typecode != "i":
                raise
            leaf.parts[p] = array("q", column)
            leaf.parts[p].insert(j, value)

    def _insert_payload(self, leaf: _Leaf, j: int, payload: bytes) -> None:
        start = leaf.ends[j - 1] if j else 0
        if j == len(leaf.ends):  # appending (a load in key order) grows the blob in place
            leaf.blob += payload
        else:
            leaf.blob[start:start] = payload
        ends = leaf.ends = _fitting(leaf.ends, len(leaf.blob))
        ends.insert(j, start + len(payload))
        _shift(ends, j + 1, len(payload))

    def replace(self, key, payload: bytes) -> bool:
        """Give the entry equal to key a new payload; False if there is no such entry."""
        where = self.find(key)
        if where is None:
            return False
        leaf = self._leaves[where[0]]
        j = where[1]
        ends = leaf.ends
        start, end = (ends[j - 1] if j else 0), ends[j]
        leaf.blob[start:end] = payload
        delta = len(payload) - (end - start)
        if delta:
            if delta > 0:
                ends = leaf.ends = _fitting(ends, len(leaf.blob))
            _shift(ends, j, delta)
        return True

    def delete(self, key) -> bool:
        """Remove the entry equal to key; False if there is none."""
        return self.pop(key) is not None

    def pop(self, key) -> bytes | None:
        """Remove the entry equal to key: its payload (b"" without payloads), or None."""
        where = self.find(key)
        if where is None:
            return None
        self._finger = None
        i, j = where
        leaf = self._leaves[i]
        payload = b""
        if self.has_payload:
            ends = leaf.ends
            start, end = (ends[j - 1] if j else 0), ends[j]
            payload = bytes(leaf.blob[start:end])
            del leaf.blob[start:end]
            del ends[j]
            _shift(ends, j, start - end)
        parts = leaf.parts
        for column in parts:
            del column[j]
        nulls = leaf.nulls
        if any(nulls):  # (a leaf's flags, where kept, are as many as its entries)
            for flags in nulls:
                if flags is not None:
                    del flags[j]
        self._len -= 1
        self._offsets = None
        left = len(parts[0])
        if not left:
            del self._leaves[i]
            del self._maxes[i]
        elif j == left:
            self._maxes[i] = self._order(leaf.entry(j - 1))
        return payload

    def _split(self, i: int) -> None:
        leaf = self._leaves[i]
        half = len(leaf) // 2
        right = _Leaf(self.kinds, self.has_payload)
        for p, column in enumerate(leaf.parts):
            right.parts[p] = column[half:]
            del column[half:]
            if leaf.nulls[p] is not None:
                right.nulls[p] = leaf.nulls[p][half:]
                del leaf.nulls[p][half:]
        if self.has_payload:
            cut = leaf.ends[half - 1]
            right.blob = leaf.blob[cut:]
            del leaf.blob[cut:]
            right.ends = leaf.ends[half:]
            del leaf.ends[half:]
            _shift(right.ends, 0, -cut)
        self._leaves.insert(i + 1, right)
        self._maxes.insert(i, self._order(leaf.entry(half - 1)))

    # -- walking -----------------------------------------------------------------------

    def iterate(self, start: tuple[int, int], stop: tuple[int, int], reverse: bool = False):
        """Entries from position start up to (not including) stop, as (entry, payload)."""
        (i0, j0), (i1, j1) = start, stop
        leaves = self._leaves
        if not reverse:
            for i in range(i0, min(i1, len(leaves) - 1) + 1):
                leaf = leaves[i]
                end = j1 if i == i1 else len(leaf)
                for j in range(j0 if i == i0 else 0, end):
                    yield leaf.entry(j), (leaf.payload(j) if self.has_payload else None)
        else:
            for i in range(min(i1, len(leaves) - 1), i0 - 1, -1):
                leaf = leaves[i]
                end = j1 if i == i1 else len(leaf)
                for j in range(end - 1, (j0 if i == i0 else 0) - 1, -1):
                    yield leaf.entry(j), (leaf.payload(j) if self.has_payload else None)

    def tail_runs(self, start: tuple[int, int], stop: tuple[int, int], first_part: int,
                  reverse: bool = False):
        """The parts from first_part on of the entries between two positions (an index's
        primary keys), in runs: per leaf, one sequence per part (NULL as None), sliced
        column by column rather than built entry by entry."""
        (i0, j0), (i1, j1) = start, stop
        leaves = self._leaves
        last = min(i1, len(leaves) - 1)
        for i in (range(last, i0 - 1, -1) if reverse else range(i0, last + 1)):
            leaf = leaves[i]
            lo, hi = (j0 if i == i0 else 0), (j1 if i == i1 else len(leaf))
            if lo >= hi:
                continue
            columns = []
            for p in range(first_part, len(self.kinds)):
                column, flags = leaf.parts[p][lo:hi], leaf.nulls[p]
                if flags is not None:
                    column = [v if f else None for v, f in zip(column, flags[lo:hi])]
                columns.append(column[::-1] if reverse else column)
            yield columns

    def first(self) -> tuple[int, int]:
        return 0, 0

    def end(self) -> tuple[int, int]:
        return (len(self._leaves) - 1, len(self._leaves[-1])) if self._leaves else (0, 0)

    def rank(self, where: tuple[int, int]) -> int:
        """How many entries come before a position."""
        return self._leaf_offsets()[where[0]] + where[1] if self._leaves else 0

    def at(self, rank: int) -> tuple[int, int]:
        """The position of the entry with a given rank (0-based); end() when past the last."""
        if rank >= self._len:
            return self.end()
        offsets = self._leaf_offsets()
        i = bisect_right(offsets, rank) - 1
        return i, rank - offsets[i]

    def _leaf_offsets(self) -> list[int]:
        if self._offsets is None:
            self._offsets = [0, *accumulate(len(leaf) for leaf in self._leaves)]
        return self._offsets

    def memory(self) -> int:
        """Bytes held, counting the objects inside "o" columns."""
        total = sys.getsizeof(self._leaves) + sys.getsizeof(self._maxes)
        total += sum(sys.getsizeof(m) for m in self._maxes)
        for leaf in self._leaves:
            total += 56
            for p, column in enumerate(leaf.parts):
                total += sys.getsizeof(column)
                if self.kinds[p] == "o":
                    total += sum(sys.getsizeof(v) for v in column)
                if leaf.nulls[p] is not None:
                    total += sys.getsizeof(leaf.nulls[p])
            if self.has_payload:
                total += sys.getsizeof(leaf.blob) + sys.getsizeof(leaf.ends)
        return total

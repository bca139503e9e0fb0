"""The sorted set value: members with float scores, ordered by (score, member).

Storage only: no command parsing, no replies. Two views of the same pairs:

- `scores`, a dict member -> score, for O(1) ZSCORE and membership;
- `_order`, a sortedcontainers SortedList of (score, member) tuples, for ranks and ranges.

The order is brought up to date when it is read, not on every write: members added or
rescored since the last ordered read wait in `_pending`, and the first read sorts them in
(one at a time when they are few, in one merge when they are many). A run of ZADDs then
costs a dict write each (an insertion into the SortedList is about ten times that).

Running time, n = len(zset), k = number of elements returned or removed, p = pending:

| operation                              | time                       |
| -------------------------------------- | -------------------------- |
| `len`, `score`, `in`                   | O(1)                       |
| `add` of a new member                  | O(1)                       |
| `add` of a new score, `remove`         | O(log n), O(1) if pending  |
| first ordered read after p writes      | + O(p log n), or O(n) merge |
| `rank`                                 | O(log n)                   |
| `score_span`, `lex_span`               | O(log n)                   |
| `items(start, stop)`                   | O(log n + k)               |
| `delete_span(start, stop)`             | O(k log n)                 |
| `pop(count)`                           | O(k log n)                 |
| `at(index)`                            | O(log n)                   |
| `copy`                                 | O(n)                       |
| `from_scores`                          | O(n log n)                 |

Positions are 0-based indexes in ascending (score, member) order; a span is a half-open
pair of positions (start, stop). Lexicographic spans assume every member has the same score,
as Redis documents for ZRANGEBYLEX; with mixed scores the answer is unspecified (as in Redis)
but never an error.

Example:

    >>> z = ZSet()
    >>> z.add(b"b", 2.0), z.add(b"a", 1.0)
    (True, True)
    >>> z.rank(b"b"), z.items(*z.score_span(1.5, False, float("inf"), False))
    (1, [(b'b', 2.0)])
"""

from sortedcontainers import SortedList


class _Top:
    """Sorts after every member, so (score, TOP) bounds the members of one score from above."""

    __slots__ = ()

    def __lt__(self, other) -> bool:
        return False

    def __gt__(self, other) -> bool:
        return True


TOP = _Top()

# Lexicographic bounds: "-" and "+" in ZRANGEBYLEX, below and above every member.
LEX_MIN = object()
LEX_MAX = object()


class ZSet:
    """A sorted set. `compact` is the OBJECT ENCODING choice (listpack while small), which
    the command layer maintains because only it knows the configured limits."""

    __slots__ = ("scores", "_order", "_pending", "compact")

    def __init__(self):
        self.scores: dict[bytes, float] = {}
        self._order = SortedList()  # every member but the pending ones, see _settled
        self._pending: dict[bytes, float] = {}  # member -> score, not in _order yet
        self.compact = True

    @classmethod
    def from_scores(cls, scores: dict) -> "ZSet":
        """A sorted set holding scores (member -> score; the dict is adopted). O(n log n)."""
        zset = cls()
        zset.scores = scores
        zset._order = SortedList(zip(scores.values(), scores))
        return zset

    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: bytes) -> bool:
        return member in self.scores

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def add(self, member: bytes, score: float) -> bool:
        """Set member's score; True if member is new. O(1), O(log n) for a rescore."""
        scores = self.scores
        old = scores.get(member)
        if old is not None:
            if old == score:
                return False
            if self._pending.pop(member, None) is None:
                self._order.remove((old, member))
        scores[member] = score
        self._pending[member] = score
        return old is None

    def remove(self, member: bytes) -> bool:
        """Remove member; True if it was there. O(log n), O(1) if pending."""
        score = self.scores.pop(member, None)
        if score is None:
            return False
        if self._pending.pop(member, None) is None:
            self._order.remove((score, member))
        return True

    def _settled(self) -> SortedList:
        """The order with the pending members taken in. SortedList.update adds them one
        by one when they are under a quarter of the whole, and otherwise sorts all pairs
        again, which is a merge of two sorted runs for Python's sort."""
        pending = self._pending
        if pending:
            self._order.update(zip(pending.values(), pending))
            pending.clear()
        return self._order

    def rank(self, member: bytes) -> int | None:
        """Position of member in ascending order, None if absent. O(log n)."""
        score = self.scores.get(member)
        if score is None:
            return None
        return self._settled().index((score, member))

    def at(self, index: int) -> tuple[bytes, float]:
        """(member, score) at a position. O(log n)."""
        score, member = self._settled()[index]
        return member, score

    def items(self, start: int = 0, stop: int | None = None,
              reverse: bool = False) -> list[tuple[bytes, float]]:
        """(member, score) pairs of positions start..stop-1, descending if reverse."""
        pairs = self._settled().islice(start, stop, reverse)
        return [(member, score) for score, member in pairs]

    def score_span(self, low: float, low_open: bool, high: float, high_open: bool
                   ) -> tuple[int, int]:
        """Positions of the members whose score lies between low and high (open or closed)."""
        order = self._settled()
        start = order.bisect_left((low, TOP) if low_open else (low,))
        stop = order.bisect_left((high,) if high_open else (high, TOP))
        return start, max(start, stop)

    def lex_span(self, low, low_open: bool, high, high_open: bool) -> tuple[int, int]:
        """Positions of the members between low and high (bytes, LEX_MIN or LEX_MAX)."""
        start = self._lex_position(low, after=low_open)
        stop = self._lex_position(high, after=not high_open)
        return start, max(start, stop)

    def _lex_position(self, bound, after: bool) -> int:
        order = self._settled()
        if bound is LEX_MIN or not order:
            return 0
        if bound is LEX_MAX:
            return len(order)
        # A binary search on members over the score order, as Redis's skiplist descent is:
        # exact when all scores are equal, and when member order follows score order (what
        # Redis's own tests rely on); otherwise unspecified, as Redis documents. O(log² n).
        lo, hi = 0, len(order)
        while lo < hi:
            mid = (lo + hi) // 2
            member = order[mid][1]
            if member < bound or (after and member == bound):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def delete_span(self, start: int, stop: int) -> int:
        """Remove the members at positions start..stop-1; how many were removed."""
        if start >= stop:
            return 0
        order = self._settled()
        for _, member in order.islice(start, stop):
            del self.scores[member]
        del order[start:stop]
        return stop - start

    def pop(self, count: int, highest: bool = False) -> list[tuple[bytes, float]]:
        """Remove and return up to count (member, score) pairs from the low (or high) end."""
        count = min(count, len(self.scores))
        if highest:
            span = (len(self.scores) - count, len(self.scores))
        else:
            span = (0, count)
        popped = self.items(*span, reverse=highest)
        self.delete_span(*span)
        return popped

    def copy(self) -> "ZSet":
        clone = ZSet()
        clone.scores = self.scores.copy()
        clone._order = SortedList(self._settled())
        clone.compact = self.compact
        return clone

    def check(self) -> None:
        """Assert the invariants (tests): the order and the pending members together hold
        the pairs of scores, each once, the order sorted."""
        assert len(self._order) + len(self._pending) == len(self.scores)
        self._order._check()
        for score, member in self._order:
            assert self.scores[member] == score and member not in self._pending
        for member, score in self._pending.items():
            assert self.scores[member] == score

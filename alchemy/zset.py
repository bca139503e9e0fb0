"""The sorted set value: members with float scores, ordered by (score, member).

Storage only: no command parsing, no replies. Two views of the same pairs are kept in step:

- `scores`, a dict member -> score, for O(1) ZSCORE and membership;
- `_order`, a sortedcontainers SortedList of (score, member) tuples, for ranks and ranges.

Running time, n = len(zset), k = number of elements returned or removed:

| operation                         | time              |
| --------------------------------- | ----------------- |
| `len`, `score`, `in`              | O(1)              |
| `add`, `remove`                   | O(log n)          |
| `rank`                            | O(log n)          |
| `score_span`, `lex_span`          | O(log n)          |
| `items(start, stop)`              | O(log n + k)      |
| `delete_span(start, stop)`        | O(k log n)        |
| `pop(count)`                      | O(k log n)        |
| `at(index)`                       | O(log n)          |
| `copy`                            | O(n)              |
| `from_scores`                     | O(n log n)        |

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

    __slots__ = ("scores", "_order", "compact")

    def __init__(self):
        self.scores: dict[bytes, float] = {}
        self._order = SortedList()
        self.compact = True

    @classmethod
    def from_scores(cls, scores: dict) -> "ZSet":
        """A sorted set holding scores (member -> score; the dict is adopted). O(n log n)."""
        zset = cls()
        zset.scores = scores
        zset._order = SortedList((score, member) for member, score in scores.items())
        return zset

    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: bytes) -> bool:
        return member in self.scores

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def add(self, member: bytes, score: float) -> bool:
        """Set member's score; True if member is new. O(log n)."""
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return False
            self._order.remove((old, member))
        self.scores[member] = score
        self._order.add((score, member))
        return old is None

    def remove(self, member: bytes) -> bool:
        """Remove member; True if it was there. O(log n)."""
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self._order.remove((score, member))
        return True

    def rank(self, member: bytes) -> int | None:
        """Position of member in ascending order, None if absent. O(log n)."""
        score = self.scores.get(member)
        if score is None:
            return None
        return self._order.index((score, member))

    def at(self, index: int) -> tuple[bytes, float]:
        """(member, score) at a position. O(log n)."""
        score, member = self._order[index]
        return member, score

    def items(self, start: int = 0, stop: int | None = None,
              reverse: bool = False) -> list[tuple[bytes, float]]:
        """(member, score) pairs of positions start..stop-1, descending if reverse."""
        pairs = self._order.islice(start, stop, reverse)
        return [(member, score) for score, member in pairs]

    def score_span(self, low: float, low_open: bool, high: float, high_open: bool
                   ) -> tuple[int, int]:
        """Positions of the members whose score lies between low and high (open or closed)."""
        order = self._order
        start = order.bisect_left((low, TOP) if low_open else (low,))
        stop = order.bisect_left((high,) if high_open else (high, TOP))
        return start, max(start, stop)

    def lex_span(self, low, low_open: bool, high, high_open: bool) -> tuple[int, int]:
        """Positions of the members between low and high (bytes, LEX_MIN or LEX_MAX)."""
        start = self._lex_position(low, after=low_open)
        stop = self._lex_position(high, after=not high_open)
        return start, max(start, stop)

    def _lex_position(self, bound, after: bool) -> int:
        if bound is LEX_MIN or not self._order:
            return 0
        if bound is LEX_MAX:
            return len(self._order)
        # A binary search on members over the score order, as Redis's skiplist descent is:
        # exact when all scores are equal, and when member order follows score order (what
        # Redis's own tests rely on); otherwise unspecified, as Redis documents. O(log² n).
        order = self._order
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
        for _, member in self._order.islice(start, stop):
            del self.scores[member]
        del self._order[start:stop]
        return stop - start

    def pop(self, count: int, highest: bool = False) -> list[tuple[bytes, float]]:
        """Remove and return up to count (member, score) pairs from the low (or high) end."""
        count = min(count, len(self._order))
        if highest:
            span = (len(self._order) - count, len(self._order))
        else:
            span = (0, count)
        popped = self.items(*span, reverse=highest)
        self.delete_span(*span)
        return popped

    def copy(self) -> "ZSet":
        clone = ZSet()
        clone.scores = self.scores.copy()
        clone._order = SortedList(self._order)
        clone.compact = self.compact
        return clone

    def check(self) -> None:
        """Assert the invariants (tests): both views hold the same pairs, in order."""
        assert len(self._order) == len(self.scores)
        self._order._check()
        for score, member in self._order:
            assert self.scores[member] == score

"""The stream value: entries ordered by ID, and the consumer groups that read them.

Storage only: no command parsing, no replies (alchemy.commands.streams has those).

An ID is one int, `ms << 64 | seq`, so IDs compare and sort as Redis's (ms, seq) pairs do
and a range is a plain int interval. Entries live in a sortedcontainers SortedDict
ID -> tuple (field, value, field, value, ...).

Redis keeps entries in listpack nodes of at most stream-node-max-entries entries (and
stream-node-max-bytes bytes), and an approximate trim (`MAXLEN ~`, `MINID ~`) drops whole
nodes only, as does LIMIT. `nodes` records where those nodes would start and how many live
entries each holds, so approximate trims leave the lengths Redis leaves. A node's size in
bytes is estimated from its fields and values; XDEL lowers a node's live count and drops an
emptied node, as Redis does.

A consumer group has its last delivered ID, the count of entries read (None when unknown,
Redis's "invalid"), a pending entries list (PEL: ID -> Pending, sorted) and its consumers,
each with its own PEL holding the same Pending objects.

Running time, n = len(stream), k = entries returned or removed:

| operation                              | time             |
| -------------------------------------- | ---------------- |
| `add`                                  | O(log n)         |
| `range`                                | O(log n + k)     |
| `delete` of one ID                     | O(log n)         |
| `trim`                                 | O(k log n)       |
| `copy`                                 | O(n + pending)   |

Example:

    >>> s = Stream()
    >>> s.add(make_id(1, 0), (b"f", b"v"), 100, 4096)
    >>> [format_id(i) for i, _ in s.range(0, MAX_ID)]
    [b'1-0']
"""

from bisect import bisect_right

from sortedcontainers import SortedDict

SEQ_MASK = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
ENTRY_OVERHEAD = 6  # bytes a listpack entry costs beyond its fields: flags, ID deltas, count


def make_id(ms: int, seq: int) -> int:
    return ms << 64 | seq


def format_id(stream_id: int) -> bytes:
    return b"%d-%d" % (stream_id >> 64, stream_id & SEQ_MASK)


class Consumer:
    __slots__ = ("name", "seen_time", "pending")

    def __init__(self, name: bytes, seen_time: int):
        self.name = name
        self.seen_time = seen_time
        self.pending = SortedDict()  # ID -> Pending, the same objects as its group's


class Pending:
    """A delivered entry not yet acknowledged."""

    __slots__ = ("consumer", "delivery_time", "delivery_count")

    def __init__(self, consumer: Consumer | None, delivery_time: int, delivery_count: int = 1):
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count


class Group:
    __slots__ = ("last_id", "entries_read", "pending", "consumers")

    def __init__(self, last_id: int, entries_read: int | None):
        self.last_id = last_id
        self.entries_read = entries_read  # None: unknown
        self.pending = SortedDict()  # ID -> Pending
        self.consumers: dict[bytes, Consumer] = {}

    def consumer(self, name: bytes, now: int) -> Consumer:
        """The consumer called name, made if it is new."""
        consumer = self.consumers.get(name)
        if consumer is None:
            consumer = self.consumers[name] = Consumer(name, now)
        return consumer

    def deliver(self, stream_id: int, consumer: Consumer, now: int) -> Pending:
        """Record stream_id as delivered to consumer now, for the first time or again."""
        pending = self.pending.get(stream_id)
        if pending is None:
            pending = self.pending[stream_id] = Pending(consumer, now)
        else:
            if pending.consumer is not None:
                pending.consumer.pending.pop(stream_id, None)
            pending.consumer, pending.delivery_time, pending.delivery_count = consumer, now, 1
        consumer.pending[stream_id] = pending
        return pending

    def assign(self, stream_id: int, pending: Pending, consumer: Consumer) -> None:
        """Move a pending entry to consumer's PEL."""
        if pending.consumer is not consumer:
            if pending.consumer is not None:
                pending.consumer.pending.pop(stream_id, None)
            pending.consumer = consumer
            consumer.pending[stream_id] = pending

    def forget(self, stream_id: int) -> bool:
        """Drop stream_id from the PELs (an ack); was it pending?"""
        pending = self.pending.pop(stream_id, None)
        if pending is None:
            return False
        if pending.consumer is not None:
            pending.consumer.pending.pop(stream_id, None)
        return True

    def remove_consumer(self, name: bytes) -> int:
        """Delete a consumer and its pending entries; how many it had."""
        consumer = self.consumers.pop(name)
        for stream_id in consumer.pending:
            del self.pending[stream_id]
        return len(consumer.pending)


class Stream:
    __slots__ = ("entries", "last_id", "entries_added", "max_deleted", "groups",
                 "node_starts", "node_live", "node_total", "node_bytes")

    def __init__(self):
        self.entries = SortedDict()
        self.last_id = 0
        self.entries_added = 0
        self.max_deleted = 0
        self.groups: dict[bytes, Group] = {}
        # The listpack nodes Redis would hold (see the module's docstring): first ID, live
        # entries, entries ever added, estimated bytes.
        self.node_starts: list[int] = []
        self.node_live: list[int] = []
        self.node_total: list[int] = []
        self.node_bytes: list[int] = []

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        """The entries' fields (MEMORY USAGE samples them)."""
        return iter(self.entries.values())

    def first_id(self) -> int:
        """Redis's recorded-first-entry-id: 0 for an empty stream."""
        return self.entries.keys()[0] if self.entries else 0

    def top_id(self) -> int:
        """The last entry's ID (0 when empty): streamLastValidID."""
        return self.entries.keys()[-1] if self.entries else 0

    def add(self, stream_id: int, fields: tuple, node_entries: int, node_bytes: int) -> None:
        """Append an entry whose ID is above last_id."""
        self.entries[stream_id] = fields
        self.last_id = stream_id
        self.entries_added += 1
        size = sum(map(len, fields)) + 2 * len(fields) + ENTRY_OVERHEAD
        if not self.node_starts or (node_bytes and self.node_bytes[-1] + size >= node_bytes) \
                or (node_entries and self.node_total[-1] >= node_entries):
            self.node_starts.append(stream_id)
            self.node_live.append(0)
            self.node_total.append(0)
            self.node_bytes.append(0)
        self.node_live[-1] += 1
        self.node_total[-1] += 1
        self.node_bytes[-1] += size

    def range(self, start: int, end: int, count: int = 0, reverse: bool = False):
        """(ID, fields) of the entries with start <= ID <= end, at most count (0: all)."""
        ids = self.entries.irange(start, end, reverse=reverse)
        entries = self.entries
        taken = 0
        for stream_id in ids:
            yield stream_id, entries[stream_id]
            taken += 1
            if taken == count:
                return

    def delete(self, stream_id: int) -> bool:
        """XDEL of one ID; max_deleted is the caller's to update."""
        if self.entries.pop(stream_id, None) is None:
            return False
        node = bisect_right(self.node_starts, stream_id) - 1
        self.node_live[node] -= 1
        if not self.node_live[node]:
            self._drop_node(node)
        return True

    def _drop_node(self, node: int) -> None:
        for column in (self.node_starts, self.node_live, self.node_total, self.node_bytes):
            del column[node]

    def trim(self, maxlen: int | None, minid: int | None, approx: bool, limit: int) -> int:
        """Remove entries from the head until at most maxlen remain, or none below minid
        (streamTrim): whole nodes, then with an exact trim part of the next one. limit (0:
        none) caps the entries removed, in whole nodes. Returns how many went."""
        deleted = 0
        entries = self.entries
        while self.node_starts:
            if maxlen is not None and len(entries) <= maxlen:
                break
            live = self.node_live[0]
            if limit and deleted + live > limit:
                break
            end = self.node_starts[1] if len(self.node_starts) > 1 else MAX_ID + 1
            ids = list(entries.irange(self.node_starts[0], end, inclusive=(True, False)))
            if maxlen is not None:
                whole = len(entries) - live >= maxlen
            else:
                whole = ids[-1] < minid
            if whole:
                for stream_id in ids:
                    del entries[stream_id]
                self._drop_node(0)
                deleted += live
                continue
            if approx:
                break
            for stream_id in ids:
                if (len(entries) <= maxlen) if maxlen is not None else stream_id >= minid:
                    break
                del entries[stream_id]
                self.node_live[0] -= 1
                deleted += 1
            break
        return deleted

    def copy(self) -> "Stream":
        """A deep copy, consumer groups and their PELs included (COPY)."""
        other = Stream()
        other.entries = self.entries.copy()
        other.last_id, other.entries_added = self.last_id, self.entries_added
        other.max_deleted = self.max_deleted
        other.node_starts, other.node_live = self.node_starts[:], self.node_live[:]
        other.node_total, other.node_bytes = self.node_total[:], self.node_bytes[:]
        for name, group in self.groups.items():
            twin = other.groups[name] = Group(group.last_id, group.entries_read)
            for consumer in group.consumers.values():
                twin.consumers[consumer.name] = Consumer(consumer.name, consumer.seen_time)
            for stream_id, pending in group.pending.items():
                owner = pending.consumer and twin.consumers[pending.consumer.name]
                copied = twin.pending[stream_id] = Pending(owner, pending.delivery_time,
                                                           pending.delivery_count)
                if owner is not None:
                    owner.pending[stream_id] = copied
        return other

    # -- consumer groups' counters (Redis's lag and entries-read estimates) --------------

    def has_tombstones(self, start: int) -> bool:
        """Might entries deleted by XDEL lie at or after start (streamRangeHasTombstones)?"""
        if not self.entries or not self.max_deleted:
            return False
        if self.first_id() > self.max_deleted:
            return False
        return start <= self.max_deleted

    def entries_before(self, stream_id: int) -> int | None:
        """How many entries were added up to stream_id, when that is known
        (streamEstimateDistanceFromFirstEverEntry); None when not."""
        if not self.entries_added:
            return 0
        if not self.entries and stream_id <= self.last_id:
            return self.entries_added
        if stream_id == self.last_id:
            return self.entries_added
        if stream_id > self.last_id:
            return None
        first = self.first_id()
        if not self.max_deleted or self.max_deleted < first:
            if stream_id < first:
                return self.entries_added - len(self.entries)
            if stream_id == first:
                return self.entries_added - len(self.entries) + 1
        return None

    def lag(self, group: Group) -> int | None:
        """XINFO's lag of a group: entries not yet delivered to it, None when unknown."""
        if not self.entries_added:
            return 0
        if group.entries_read is not None and not self.has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        read = self.entries_before(group.last_id)
        return None if read is None else self.entries_added - read

    def advance(self, group: Group, stream_id: int) -> None:
        """The group was delivered stream_id, past its last ID: count it as read."""
        if group.entries_read is not None and not self.has_tombstones(stream_id):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.entries_before(stream_id)
        group.last_id = stream_id

"""Cursors for SCAN, HSCAN, SSCAN and ZSCAN.

Python dicts offer no stable position that survives a resize, so a scan takes a snapshot of
the keys (one list of references, 8 bytes a key) at cursor 0 and walks it. The guarantee is
Redis's: an element present for the whole scan is returned; one added meanwhile may or may
not be; one removed meanwhile is filtered out by the caller. Snapshots are bounded (LRU); a
cursor whose snapshot was evicted restarts from a fresh one at the same position.

Cursor layout: snapshot id in the high bits, position in the low 32 bits.
"""

from collections import OrderedDict
from typing import Callable

_POSITION_BITS = 32


class ScanCursors:
    def __init__(self, limit: int = 256):
        self._snapshots: OrderedDict[int, list] = OrderedDict()
        self._last_id = 0
        self._limit = limit

    def next_batch(self, cursor: int, count: int, snapshot: Callable[[], list]) -> tuple[int, list]:
        """Up to `count` elements from `cursor`; (next cursor, batch), next cursor 0 at the end.

        `snapshot` makes the list of elements; it is called at cursor 0 (and after eviction).
        """
        snapshot_id, position = divmod(cursor, 1 << _POSITION_BITS)
        items = self._snapshots.get(snapshot_id) if cursor else None
        if items is None:
            items = snapshot()
            if cursor == 0 and len(items) <= count:
                return 0, items
            self._last_id += 1
            snapshot_id = self._last_id
            self._snapshots[snapshot_id] = items
            if len(self._snapshots) > self._limit:
                self._snapshots.popitem(last=False)
        else:
            self._snapshots.move_to_end(snapshot_id)
        batch = items[position:position + count]
        position += count
        if position >= len(items):
            self._snapshots.pop(snapshot_id, None)
            return 0, batch
        return (snapshot_id << _POSITION_BITS) | position, batch

"""A numbered database: keys to values, plus expiry times.

Values are plain Python objects, one class per Redis type: bytes or bytearray (string;
bytearray once modified in place, so SETBIT/SETRANGE/APPEND cost O(1) amortised rather than
a copy), and the collection classes each data-type module registers with `register_type`.

Every key whose value is not a bytes string or an exact dict (a hash in the listpack
encoding) is also listed in `apart` (a superset: a key overwritten by a string stays there
until deleted). A forked snapshot writer serializes those keys one by one and all the
others in one walk that takes no references (alchemy.persistence.snapshot): reading
millions of strings and hashes must not write to each one's reference count, nor to its
key's, which would copy every page of them.

Expiry is lazy (checked on every access) and active: a heap of (deadline, key) lets the
event loop reclaim expired keys nobody touches, oldest first, in bounded slices. Heap entries
for keys whose TTL changed are left in place and skipped when popped (lazy deletion).
"""

import heapq
import time
from dataclasses import dataclass
from typing import Callable

from alchemy.errors import WRONGTYPE, AlchemyError



@dataclass
class ValueType:
    name: str
    copy: Callable
    encoding: Callable


TYPES: dict[type, ValueType] = {}


def register_type(cls: type, name: str, copy: Callable, encoding: Callable) -> None:
    """Declare a value class: its TYPE name, how COPY duplicates it, its OBJECT ENCODING."""
    TYPES[cls] = ValueType(name, copy, encoding)


def _string_encoding(value) -> str:
    if len(value) <= 20:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is not None and str(number).encode() == bytes(value) \
                and -2**63 <= number < 2**63:
            return "int"
    return "embstr" if len(value) <= 44 and type(value) is bytes else "raw"


register_type(bytes, "string", lambda v: v, _string_encoding)
register_type(bytearray, "string", bytearray, _string_encoding)


def now_ms() -> int:
    return int(time.time() * 1000)


class Keyspace:
    """One of the 16 databases (SELECT 0-15)."""

    def __init__(self, index: int, on_expired: Callable):
        self.index = index
        self.data: dict = {}
        self.expires: dict = {}
        self.apart: set = set()
        self._deadlines: list = []
        self._on_expired = on_expired
        # Keys some client WATCHes or BLPOPs on; empty almost always, so writes check cheaply.
        self.watched: dict = {}
        self.blocked: dict = {}

    def __len__(self) -> int:
        return len(self.data)

    def get(self, key: bytes):
        """The live value of key, or None; an expired key is deleted on the way."""
        value = self.data.get(key)
        if value is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when <= now_ms():
                self._expire(key)
                return None
        return value

    # get_typed and get_string are every command's lookup: they call get, which checks
    # the deadline, only when some key of this database has one.

    def get_typed(self, key: bytes, cls: type):
        """The value if it is a `cls`, None if absent; WRONGTYPE otherwise."""
        value = self.get(key) if self.expires else self.data.get(key)
        if value is not None and type(value) is not cls:
            raise AlchemyError(WRONGTYPE)
        return value

    def get_string(self, key: bytes):
        value = self.get(key) if self.expires else self.data.get(key)
        if value is not None and type(value) is not bytes and type(value) is not bytearray:
            raise AlchemyError(WRONGTYPE)
        return value

    def set(self, key: bytes, value, keep_ttl: bool = False) -> None:
        self.data[key] = value
        if type(value) is not bytes and type(value) is not dict:
            self.apart.add(key)
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)

    def set_many(self, keys, values) -> None:
        """set(key, value) of each key and value in turn (a later value of the same key
        wins); the values are bytes."""
        self.data.update(zip(keys, values))
        if self.expires:
            for key in keys:
                self.expires.pop(key, None)

    def delete(self, key: bytes) -> bool:
        if self.get(key) is None:
            return False
        del self.data[key]
        if self.expires:
            self.expires.pop(key, None)
        if self.apart:
            self.apart.discard(key)
        return True

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def expire_at(self, key: bytes, when_ms: int) -> None:
        """Give an existing key a deadline (absolute, in ms)."""
        self.expires[key] = when_ms
        heapq.heappush(self._deadlines, (when_ms, key))
        if len(self._deadlines) > 2 * len(self.expires) + 1024:
            self._deadlines = [(w, k) for k, w in self.expires.items()]
            heapq.heapify(self._deadlines)

    def persist(self, key: bytes) -> bool:
        return self.expires.pop(key, None) is not None

    def deadline(self, key: bytes) -> int | None:
        return self.expires.get(key)

    def clear(self) -> None:
        self.data = {}
        self.expires = {}
        self.apart = set()
        self._deadlines = []

    def swap(self, other: "Keyspace") -> None:
        """Exchange contents with another database (SWAPDB); watchers and waiters stay put."""
        self.data, other.data = other.data, self.data
        self.expires, other.expires = other.expires, self.expires
        self.apart, other.apart = other.apart, self.apart
        self._deadlines, other._deadlines = other._deadlines, self._deadlines

    def type_name(self, value) -> str:
        return TYPES[type(value)].name

    def _expire(self, key: bytes) -> None:
        del self.data[key]
        del self.expires[key]
        self.apart.discard(key)
        self._on_expired(self, key)

    def expire_some(self, budget: int) -> int:
        """Active expiry: delete up to `budget` keys whose deadline has passed."""
        heap = self._deadlines
        now = now_ms()
        done = 0
        while heap and heap[0][0] <= now and done < budget:
            when, key = heapq.heappop(heap)
            if self.expires.get(key) == when:
                self._expire(key)
                done += 1
        return done

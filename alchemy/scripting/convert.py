"""Conversions between command replies and Lua values, with Redis 7's rules.

Reply -> Lua (what redis.call returns): bulk strings are strings, integers numbers, arrays
tables, a status `{ok=...}`, an error `{err=...}`, nulls `false` under RESP2. Under RESP3
(redis.setresp(3)) nulls are nil, booleans booleans, and maps, sets, doubles, big numbers
and verbatim strings are tables with one field naming the type, as in Redis.

Lua -> reply (what a script returns): numbers truncated to integers, `true` 1 and `false`
null (RESP3 scripts: booleans), tables are arrays that stop at the first nil unless they
carry `err`, `ok`, `double`, `big_number`, `verbatim_string`, `map` or `set`. The Lua side
(sandbox.lua `flatten`) walks a returned table into (tag, value) tokens with raw access, so
metatables never run; `reply_from_tokens` rebuilds the reply here.
"""

from typing import Callable

from alchemy.errors import AlchemyError
from alchemy.reply import OK, BigNumber, NullArray, Push, Status, Verbatim
from alchemy.resp import format_double

INT64_MIN = -2**63
STACK_LIMIT = AlchemyError("ERR reached lua stack limit")


def lua_integer(number) -> int:
    """A Lua number as Redis replies it: (long long) truncation; out of range and NaN
    give what the x86 conversion gives."""
    if type(number) is int and INT64_MIN <= number < 2**63:
        return number
    if number != number or not INT64_MIN <= number < 2**63:
        return INT64_MIN
    return int(number)


def scalar_reply(value, resp3: bool):
    """A returned string, number, boolean or nil."""
    kind = type(value)
    if kind is bytes:
        return value
    if kind is bool:
        if resp3:
            return value
        return 1 if value else None
    if kind is int or kind is float:
        return lua_integer(value)
    return None


def status_reply(text: bytes) -> Status:
    """{ok=...}: a status line, its CR and LF made spaces (they would break the line)."""
    if text == b"OK":  # what a script returning redis.call('SET', ...) returns
        return OK
    return Status(text.decode("utf-8", "replace").replace("\r", " ").replace("\n", " "))


def reply_from_tokens(tokens: list, resp3: bool):
    """The reply a flattened table stands for (see sandbox.lua `flatten`)."""
    reply, _ = _from_tokens(tokens, 0, resp3)
    return reply


def _from_tokens(tokens: list, i: int, resp3: bool):
    tag, value = tokens[i], tokens[i + 1]
    i += 2
    if tag == b"array":
        items = []
        for _ in range(value):
            item, i = _from_tokens(tokens, i, resp3)
            items.append(item)
        return items, i
    if tag == b"map":
        pairs = {}
        for _ in range(value):
            key, i = _from_tokens(tokens, i, resp3)
            item, i = _from_tokens(tokens, i, resp3)
            pairs[_hashable(key)] = item
        return pairs, i
    if tag == b"set":
        members = set()
        for _ in range(value):
            member, i = _from_tokens(tokens, i, resp3)
            members.add(_hashable(member))
        return members, i
    return _leaf(tag, value, resp3), i


def _leaf(tag: bytes, value, resp3: bool):
    if tag == b"err":
        return AlchemyError(value.decode("utf-8", "replace"))
    if tag == b"ok":
        return status_reply(value)
    if tag == b"double":
        return float(value)
    if tag == b"big_number":
        return BigNumber(value.replace(b"\r", b" ").replace(b"\n", b" "))
    if tag == b"verbatim":
        return Verbatim(value)
    if tag == b"limit":
        return STACK_LIMIT
    return scalar_reply(value if tag != b"nil" else None, resp3)


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


OK_BATCH = 32


class ToLua:
    """Command replies as Lua values, for one runtime (tables are made by its table_from)."""

    def __init__(self, table_from: Callable, status: Callable, failure: Callable,
                 ok_tables: Callable):
        self.table_from = table_from
        self.status = status
        self.failure = failure
        self._ok_tables = ok_tables  # n fresh {ok="OK"} tables
        self.oks: list = []  # made and not given yet (ok() refills this same list)

    def ok(self):
        """A fresh {ok="OK"} (a script may change it): made OK_BATCH at a time, as one
        call into Lua costs more than the table."""
        oks = self.oks
        if not oks:
            oks.extend(self._ok_tables(OK_BATCH))
        return oks.pop()

    def error(self, error: AlchemyError):
        """An error reply as the `{err=...}` table redis.pcall returns."""
        return self.failure(error.message.strip("\r\n").encode("utf-8", "replace"))

    def __call__(self, reply, resp3: bool):
        kind = type(reply)
        if kind is bytes or kind is int:
            return reply
        if kind is Status:
            return self.ok() if reply.text == "OK" else self.status(reply.text.encode())
        if reply is None or kind is NullArray:
            return None if resp3 else False
        if kind is list or kind is tuple or kind is Push:
            return self.table_from([self(item, resp3) for item in reply])
        if isinstance(reply, AlchemyError):
            return self.error(reply)
        if kind is float:
            if resp3:
                return self.table_from({b"double": reply})
            return format_double(reply)
        if kind is bool:
            return reply if resp3 else int(reply)
        if kind is dict:
            if resp3:
                return self.table_from({b"map": self.table_from(
                    {self(k, resp3): self(v, resp3) for k, v in reply.items()})})
            return self.table_from([self(x, resp3) for pair in reply.items() for x in pair])
        if kind is set or kind is frozenset:
            if resp3:
                return self.table_from({b"set": self.table_from(
                    {self(member, resp3): True for member in reply})})
            return self.table_from([self(member, resp3) for member in reply])
        if kind is Verbatim:
            if resp3:
                return self.table_from({b"verbatim_string": self.table_from(
                    {b"format": b"txt", b"string": bytes(reply)})})
            return bytes(reply)
        if kind is BigNumber:
            return self.table_from({b"big_number": bytes(reply)}) if resp3 else bytes(reply)
        if kind is bytearray or kind is memoryview:
            return bytes(reply)
        return None

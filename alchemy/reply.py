"""Reply values that are not plain Python values.

Handlers return bytes (bulk string), int, float (double), None (null), list (array),
dict (map), set (RESP3 set, RESP2 array), bool (RESP3 boolean) or one of the types here.
Only alchemy.resp knows how each becomes bytes on the wire.
"""


class Status:
    """A simple string reply (`+OK`), with its RESP encoding computed once."""

    __slots__ = ("text", "encoded")

    def __init__(self, text: str):
        self.text = text
        self.encoded = b"+" + text.encode() + b"\r\n"

    def __repr__(self) -> str:
        return f"Status({self.text!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Status) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


OK = Status("OK")
QUEUED = Status("QUEUED")
PONG = Status("PONG")


class NullArray:
    """The null array (`*-1` in RESP2), e.g. a timed-out BLPOP or an aborted EXEC."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY = NullArray()


class Push(list):
    """An out-of-band message (pub/sub, invalidation): `>` in RESP3, an array in RESP2."""


class Verbatim(bytes):
    """Verbatim text (`=` in RESP3, e.g. INFO, CLIENT LIST); a bulk string in RESP2."""


class BigNumber(bytes):
    """A big number (`(` in RESP3, e.g. from a script's {big_number=...}); a bulk string
    in RESP2."""


class Encoded(bytes):
    """A reply already encoded for its client's protocol (a SQL result, encoded by
    alchemy.resp.encode_rows): written to the wire as it is."""


class NoReply:
    """The command has already answered, or answers later (a blocked client)."""

    __slots__ = ()


NO_REPLY = NoReply()

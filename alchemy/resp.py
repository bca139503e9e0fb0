"""RESP framing and encoding: pure code over bytes, no sockets.

Requests are parsed by hiredis (C, about 10x faster than Python here). hiredis is a reply
parser, so it neither knows Redis's request limits nor inline commands; a chunk that starts
inline, or holds a negative array count, goes through `RequestParser`, which applies Redis's
rules and error texts exactly, and so do the headers of a request hiredis waits on when they
may declare lengths Redis refuses. Replies are encoded for RESP2 or RESP3.
"""

from itertools import islice
import re

import hiredis

from alchemy.errors import AlchemyError
from alchemy.reply import BigNumber, Encoded, NoReply, NullArray, Push, Status, Verbatim

MAX_MULTIBULK = 1024 * 1024
MAX_INLINE = 64 * 1024


class ProtocolError(Exception):
    """The stream is broken: reply with the message, then close the connection."""


# Array headers Redis treats otherwise than hiredis: a negative count (Redis ignores the
# array, hiredis fails), and a count above MAX_MULTIBULK (Redis refuses it, hiredis waits
# for its elements). A chunk holding "*-" goes to RequestParser; hiredis may see a large
# count, whose list it allocates with calloc (untouched pages), because the chunk cannot
# also hold 1M elements (at least 6 bytes each): gets() waits, and take() then finds the
# header with this pattern and refuses it as Redis does.
_SUSPICIOUS_COUNT = re.compile(rb"\*-|\*\d{7}")
_LARGEST_COUNTED = 6 * MAX_MULTIBULK  # a chunk this long could hold a whole large array


_HEAD_CHECKED = 2 * MAX_INLINE + 2
# Of map(type, items): are they all plain bytes?
_only_bytes = {bytes}.issuperset
_join = b"".join
_JOIN_LIMIT = 64 * 1024


def _all_bytes(args: list, size: int) -> bool:
    """Are args (of the arrays hiredis parsed from size bytes) all bytes? hiredis also
    parses replies (integers, nulls, nested arrays), which are no requests. A join of
    them raises at the first that is not bytes: in C, at about half the cost of a type
    test each, but a copy, so not for large requests."""
    if size > _JOIN_LIMIT:
        return _only_bytes(map(type, args))
    try:
        _join(args)
    except TypeError:
        return False
    return True


class RequestReader:
    """Turns a client's byte stream into argument lists (lists of bytes)."""

    def __init__(self, max_bulk_len: int = 512 * 1024 * 1024,
                 max_query_buffer: int = 1024 * 1024 * 1024):
        self.fast = hiredis.Reader()
        self.slow: RequestParser | None = None
        self.max_bulk_len = max_bulk_len
        self.max_query_buffer = max_query_buffer
        self.partial_bytes = 0  # fed since the last complete request
        # hiredis is inside a request. Its has_data() cannot tell: it is False between two
        # arguments of an array once their bytes are consumed.
        self.mid_request = False
        # The head of the request hiredis is waiting for, from a request boundary, until
        # its headers are known to be sound.
        self.unchecked: bytes | None = None
        self.pending: list = []  # taken, given back by unread
        self.error: ProtocolError | None = None  # raised once the requests before it are taken

    def feed(self, data: bytes) -> None:
        at_boundary = self.slow is None and not self.mid_request
        if at_boundary and data[0] != 42 and not self.pending and _plain_inline(data):
            # Whole inline commands without quotes (PING typed into nc, PING_INLINE): split
            # here, without a RequestParser and its buffer.
            self.pending = _split_inline(data)
            return
        # At a request boundary, hiredis takes a chunk that starts with an array header
        # unless the chunk holds a negative count (_SUSPICIOUS_COUNT tells why large ones
        # are looked for later): one C search, where the expression cost about 17 instructions
        # a byte of every pipelined chunk (callgrind).
        if at_boundary and (data[0] != 42 or _negative_count(data) or (
                len(data) > _LARGEST_COUNTED and _SUSPICIOUS_COUNT.search(data) is not None)):
            self.slow = RequestParser(self.max_bulk_len)
        if self.slow is not None:
            self.slow.feed(data)
        else:
            self.fast.feed(data)
            self.mid_request = True
            if at_boundary:
                self.unchecked = data
            elif self.unchecked is not None:
                # Only whole chunks (a gap would misalign every header after it); past the
                # bound, one last exact look at all of it before hiredis is left alone.
                self.unchecked += data
                if len(self.unchecked) > _HEAD_CHECKED:
                    self._check_headers()
        self.partial_bytes += len(data)
        if self.partial_bytes > self.max_query_buffer:
            raise ProtocolError("Protocol error: query buffer limit exceeded")

    def take(self) -> list:
        """Every complete request buffered, in order (one call per read, not per request).
        A broken stream raises ProtocolError once the requests before the break are taken
        (`error` tells that it will): their replies go out first, as in Redis."""
        requests: list = []
        if self.error is not None:
            pass  # the requests before the break were taken
        elif self.slow is not None:
            requests = self._take_slow()
        else:  # hiredis's loop, inline: without pipelining this runs once per request
            fast = self.fast
            # The arguments of the arrays, gathered as they come for one test: testing the
            # requests afterwards (a type each, then a join over a chain of them) cost
            # about 450 instructions a request more (callgrind, 16 pipelined INCR).
            args: list = []
            try:
                # hiredis's has_data() is False between two arguments of an array once
                # their bytes are consumed: the loop ends either at a request boundary
                # (has_data() False after a complete request) or inside a request (gets()
                # gives False).
                while fast.has_data():
                    request = fast.gets()
                    if type(request) is list:
                        requests.append(request)
                        args += request
                    elif request is False:  # inside a request: are its headers sound?
                        if self.unchecked is not None and (
                                fast.has_data()
                                or _SUSPICIOUS_COUNT.search(self.unchecked) is not None):
                            self._check_headers()
                        break
                    else:  # no array: the test of args fails, _sound_prefix says why
                        requests.append(request)
                        args.append(None)
                else:
                    if requests:
                        self.mid_request = False
            except hiredis.ProtocolError as e:
                self.error = ProtocolError(_hiredis_message(str(e)))
            except MemoryError:
                self.error = ProtocolError("Protocol error: invalid multibulk length")
            except ProtocolError as e:
                self.error = e
            if requests:
                if not _all_bytes(args, self.partial_bytes):
                    requests = self._sound_prefix(requests)
                self.partial_bytes = 0
        if self.pending:
            requests, self.pending = self.pending + requests, []
        if not requests and self.error is not None:
            raise self.error
        return requests

    def unread(self, requests: list) -> None:
        """Give back requests taken but not run (the client blocked): the next take
        returns them first."""
        self.pending = requests + self.pending

    def _take_slow(self) -> list:
        requests, self.error = self.slow.take_all()
        self.partial_bytes = len(self.slow.buffer)
        if not self.slow.buffer:
            self.slow = None
        return requests

    def _sound_prefix(self, requests: list) -> list:
        """The requests before the first that is not an array of bulk strings; that one
        is the protocol error."""
        for index, request in enumerate(requests):
            if type(request) is not list:
                message = f"expected '*', got '{_type_char(request)}'"
            else:
                bad = [arg for arg in request if type(arg) is not bytes]
                if not bad:
                    continue
                message = f"expected '$', got '{_type_char(bad[0])}'"
            self.error = ProtocolError("Protocol error: " + message)
            return requests[:index]
        return requests

    def _check_headers(self) -> None:
        """hiredis waits for a request that is still incomplete. If it is one whose declared
        lengths Redis would refuse (a 2 GB bulk), or whose header line is still unfinished
        after 64 KB, say so now instead of buffering for it; the bytes began on a request
        boundary, so their headers can be walked exactly."""
        parser = RequestParser(self.max_bulk_len)
        parser.feed(self.unchecked)
        while parser.next() is not False:
            pass
        # Left over is the start of the incomplete request: keep checking it as it grows,
        # up to a bound that keeps this cheap (headers in a request's first 64 KB get Redis's
        # exact treatment; later ones are left to hiredis and the query buffer limit).
        left = parser.buffer
        self.unchecked = bytes(left) if len(left) < _HEAD_CHECKED else None


def _hiredis_message(text: str) -> str:
    m = re.search(r'got "(.)" as reply type byte', text)
    if m:
        return f"Protocol error: expected '$', got '{m.group(1)}'"
    if "bulk" in text.lower() and "multi" not in text.lower():
        return "Protocol error: invalid bulk length"
    return "Protocol error: invalid multibulk length"


def _type_char(value) -> str:
    return {int: ":", list: "*", type(None): "$"}.get(type(value), "?")


def _negative_count(chunk: bytes) -> bool:
    """Might chunk, which starts with an array header, hold a negative count? Without
    pipelining it holds one header, and the test is two memchr-speed steps; a search for
    "*-" costs about 5 instructions a byte."""
    if chunk.find(b"*", 1) < 0:
        return chunk[1:2] == b"-"
    return chunk.find(b"*-") >= 0


def _plain_inline(chunk: bytes) -> bool:
    """Is chunk whole lines (a newline last) of inline commands without quotes or array
    headers, which _split_inline splits as _inline would?"""
    return chunk[-1:] == b"\n" and chunk.find(b"*") < 0 and chunk.find(b'"') < 0 \
        and chunk.find(b"'") < 0


def _split_inline(lines: bytes) -> list:
    # bytes.split() strips the '\r' and drops empty lines' words, as _inline does.
    return list(filter(None, map(bytes.split, lines.split(b"\n"))))


class RequestParser:
    """Redis's own request grammar, with its limits and error texts (networking.c).

    Used for inline commands, for streams hiredis should not see, and for log replay.
    """

    def __init__(self, max_bulk_len: int = 512 * 1024 * 1024):
        self.buffer = bytearray()
        self.max_bulk_len = max_bulk_len

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def next(self):
        """The next request as a list of bytes, or False if incomplete."""
        buf = self.buffer
        while buf:
            if buf[0] == 42:  # '*'
                request = self._multibulk()
            else:
                request = self._inline()
            if request is False:
                return False
            if request:
                return request
        return False

    def take_all(self) -> tuple[list, ProtocolError | None]:
        """Every complete request buffered, and the error that stopped the parse (None
        when it ran out of bytes)."""
        requests = self._simple_inline()
        try:
            while (request := self.next()) is not False:
                requests.append(request)
        except ProtocolError as error:
            return requests, error
        return requests, None

    def _simple_inline(self) -> list:
        """The whole lines buffered when they are all inline commands without quotes
        (PING_INLINE pipelined): split in C, not a line at a time."""
        buf = self.buffer
        lines = bytes(buf[:buf.rfind(b"\n") + 1])
        if not _plain_inline(lines):
            return []
        del buf[:len(lines)]
        return _split_inline(lines)

    def _inline(self):
        buf = self.buffer
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > MAX_INLINE:
                raise ProtocolError("Protocol error: too big inline request")
            return False
        line = bytes(buf[:nl]).rstrip(b"\r")
        del buf[:nl + 1]
        args = split_args(line)
        if args is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request")
        return args

    def _multibulk(self):
        buf = self.buffer
        nl = buf.find(b"\r\n")
        if nl < 0:
            if len(buf) > MAX_INLINE:
                raise ProtocolError("Protocol error: too big mbulk count string")
            return False
        count = _parse_length(buf[1:nl])
        if count is None or count > MAX_MULTIBULK:
            raise ProtocolError("Protocol error: invalid multibulk length")
        pos = nl + 2
        args = []
        for _ in range(max(count, 0)):
            if pos >= len(buf):
                return False
            if buf[pos] != 36:  # '$'
                raise ProtocolError(
                    f"Protocol error: expected '$', got '{chr(buf[pos])}'")
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                if len(buf) - pos > MAX_INLINE:
                    raise ProtocolError("Protocol error: too big bulk count string")
                return False
            length = _parse_length(buf[pos + 1:nl])
            if length is None or length < 0 or length > self.max_bulk_len:
                raise ProtocolError("Protocol error: invalid bulk length")
            start = nl + 2
            if len(buf) < start + length + 2:
                return False
            args.append(bytes(buf[start:start + length]))
            pos = start + length + 2
        del buf[:pos]
        return args


def _parse_length(text) -> int | None:
    if not re.fullmatch(rb"-?\d{1,18}", text):
        return None
    return int(text)


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"
_DOUBLE_QUOTE, _SINGLE_QUOTE = ord('"'), ord("'")


def split_args(line: bytes) -> list | None:
    """Split an inline command as redis-cli and sdssplitargs do; None on unbalanced quotes."""
    # Bytes are tested for as numbers: `b'"' in line` first tries the operand as an
    # integer, failing with an exception, and costs nine times as much.
    if _DOUBLE_QUOTE not in line and _SINGLE_QUOTE not in line:
        return line.split()  # bytes.split's whitespace is sdssplitargs's: " \t\n\r\v\f"
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            if i >= n:
                if in_double or in_single:
                    return None
                break
            c = line[i]
            if in_double:
                if (c == 92 and i + 3 < n and line[i + 1] == ord("x")
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    current.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        return None
                    in_double = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_single:
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    current.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        return None
                    in_single = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif c in b" \t\n\r\v\f":
                break
            elif c == 34:
                in_double = True
            elif c == 39:
                in_single = True
            else:
                current.append(c)
            i += 1
        args.append(bytes(current))


def format_double(value: float) -> bytes:
    """Redis 7.0's %.17g rendering of a double, with inf spelled as Redis does."""
    if value != value:
        return b"nan"
    if value in (float("inf"), float("-inf")):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % value


def encode(value, resp3: bool = False) -> bytes:
    out: list[bytes] = []
    write_reply(out, value, resp3)
    return b"".join(out)


# "$<length>" of bulk strings up to 4 KiB: a list lookup instead of a %-format per item.
_BULK_HEADS = [b"$%d" % length for length in range(4096)]
_bulk_head = _BULK_HEADS.__getitem__


def _bulk_strings(items) -> bytes:
    """Items, all bytes, as consecutive RESP bulk strings: one join over a list of heads
    and items, every per-item step a C loop (LRANGE 0 99 encodes at half the cost of a
    Python loop over the items)."""
    parts = [b""] * (2 * len(items) + 1)
    parts[1::2] = items
    try:
        parts[0:-1:2] = map(_bulk_head, map(len, items))
    except IndexError:  # an item of 4 KiB or more
        parts[0:-1:2] = [b"$%d" % len(item) for item in items]
    return b"\r\n".join(parts)


# The commonest reply heads looked up instead of %-formatted (a format costs twice a
# lookup and a list extend): "$<length>\r\n" of bulk strings under 4 KiB, ":<n>\r\n" of
# integers 0-1023. A bulk string is appended as (head, value, CRLF).
BULK_HEADERS = [b"$%d\r\n" % length for length in range(4096)]
INTEGERS = [b":%d\r\n" % n for n in range(1024)]


def write_reply(out: list, value, resp3: bool) -> None:
    """Append the encoding of value to out."""
    kind = type(value)
    if kind is bytes:
        try:
            out += (BULK_HEADERS[len(value)], value, b"\r\n")
        except IndexError:
            out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif kind is Status:
        out.append(value.encoded)
    elif kind is int:
        out.append(INTEGERS[value] if 0 <= value < 1024 else b":%d\r\n" % value)
    elif value is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif kind is list or kind is tuple:
        out.append(b"*%d\r\n" % len(value))
        if len(value) > 8 and _only_bytes(map(type, value)):
            out.append(_bulk_strings(value))
            return
        # Arrays of bulk strings and integers (SQL rows, LRANGE) are most arrays: their
        # items are encoded here, a call per item costing as much as the encoding.
        for item in value:
            item_kind = type(item)
            if item_kind is bytes:
                try:
                    out += (BULK_HEADERS[len(item)], item, b"\r\n")
                except IndexError:
                    out.append(b"$%d\r\n%s\r\n" % (len(item), item))
            elif item_kind is int:
                out.append(INTEGERS[item] if 0 <= item < 1024 else b":%d\r\n" % item)
            else:
                write_reply(out, item, resp3)
    elif isinstance(value, AlchemyError):
        text = value.message.replace("\r", " ").replace("\n", " ")
        out.append(b"-" + text.encode("utf-8", "replace") + b"\r\n")
    elif kind is float:
        text = format_double(value)
        out.append(b",%s\r\n" % text if resp3 else b"$%d\r\n%s\r\n" % (len(text), text))
    elif kind is bool:
        if resp3:
            out.append(b"#t\r\n" if value else b"#f\r\n")
        else:
            out.append(b":1\r\n" if value else b":0\r\n")
    elif kind is dict:
        out.append(b"%%%d\r\n" % len(value) if resp3 else b"*%d\r\n" % (2 * len(value)))
        for key, item in value.items():
            write_reply(out, key, resp3)
            write_reply(out, item, resp3)
    elif kind is set or kind is frozenset:
        out.append(b"~%d\r\n" % len(value) if resp3 else b"*%d\r\n" % len(value))
        for item in value:
            write_reply(out, item, resp3)
    elif kind is Push:
        out.append(b">%d\r\n" % len(value) if resp3 else b"*%d\r\n" % len(value))
        for item in value:
            write_reply(out, item, resp3)
    elif kind is NullArray:
        out.append(b"_\r\n" if resp3 else b"*-1\r\n")
    elif kind is Verbatim:
        if resp3:
            out.append(b"=%d\r\ntxt:%s\r\n" % (len(value) + 4, value))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif kind is BigNumber:
        if resp3:
            out.append(b"(%s\r\n" % value)
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif kind is Encoded:
        out.append(value)
    elif kind is bytearray or kind is memoryview:
        write_reply(out, bytes(value), resp3)
    elif kind is NoReply:
        pass
    else:
        raise TypeError(f"cannot encode {kind.__name__} as a reply")


_ARRAY_HEADS = [b"*%d\r\n" % count for count in range(64)]


def encode_rows(header: list, rows: list, resp3: bool, convert,
                encoded_header: bytes | None = None, texts: tuple = ()) -> Encoded:
    """A table of rows as RESP: an array of the header (bytes; encoded_header, when given,
    is it as encode_header wrote it) and of each row, as wide as the header. One pass over
    the values, texts and integers encoded inline: a list per row and then write_reply over
    them cost the reply of a ten-row join 1.7 times as many instructions. Values other than
    text, bytes, integers and None go through convert (value, resp3 -> a reply value). Text
    may come as str or as its UTF-8 bytes (bytes or a bytearray). texts: the columns most
    likely read as short texts' UTF-8 bytes (Rows.undecoded); when they are all of them,
    rows go through _text_rows until one that is not only such texts."""
    out = [b"*%d\r\n" % (len(rows) + 1)]
    if encoded_header is None:
        write_reply(out, header, resp3)
    else:
        out.append(encoded_header)
    width = len(header)
    row_head = _ARRAY_HEADS[width] if width < 64 else b"*%d\r\n" % width
    if texts and len(texts) == width < 64:
        start = len(out)
        _text_rows(width)(out, rows)
        done = (len(out) - start) // (1 + 3 * width)  # rows encoded: 1 + 3 pieces a value
        if done == len(rows):
            try:
                return Encoded(b"".join(out))
            except TypeError:  # a str or a list among the values: all over again
                del out[start:]
                done = 0
        rows = islice(rows, done, None)
    heads, integers = BULK_HEADERS, INTEGERS
    for row in rows:
        out.append(row_head)
        for value in row:
            kind = type(value)
            if kind is str:
                value = value.encode()
            elif kind is not bytearray and kind is not bytes:
                if kind is int:
                    out.append(integers[value] if 0 <= value < 1024 else b":%d\r\n" % value)
                else:
                    write_reply(out, value if value is None else convert(value, resp3), resp3)
                continue
            # Text, as str or as the UTF-8 bytes a join reads it as: tested for after str
            # alone, not after three tests (8% of a ten-row join's encoding).
            try:
                out += (heads[len(value)], value, b"\r\n")
            except IndexError:  # 4 KiB or more
                out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    return Encoded(b"".join(out))


_TEXT_ROWS: dict = {}


def _text_rows(width: int):
    """(out, rows) -> None, for rows of width values that are most likely short texts as
    bytes: a row is one tuple added to out, with no test of a value's type (two thirds of
    the instructions of encode_rows' own loop). It stops at a row holding another value,
    which fails in len (None, a number) or in the header lookup (4 KiB or more) before
    anything of that row is added; a str or a list fails only in encode_rows' join."""
    encode = _TEXT_ROWS.get(width)
    if encode is None:
        names = ", ".join(f"v{i}" for i in range(width)) + ","
        pieces = ", ".join(f"heads[len(v{i})], v{i}, b'\\r\\n'" for i in range(width))
        source = (f"def encode(out, rows):\n"
                  f"    for {names} in rows:\n"
                  f"        try:\n"
                  f"            out += (row_head, {pieces})\n"
                  f"        except (TypeError, IndexError):\n"
                  f"            return\n")
        space = {"heads": BULK_HEADERS, "row_head": _ARRAY_HEADS[width]}
        exec(source, space)
        encode = _TEXT_ROWS[width] = space["encode"]
    return encode


def encode_header(header: list) -> bytes:
    """The header of encode_rows (names as bytes), encoded once to be given to it again."""
    out: list = []
    write_reply(out, header, False)  # an array of bulk strings: the same in RESP3
    return b"".join(out)

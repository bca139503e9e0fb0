"""The append-only log: record format, reading back, checking and repair.

A log is a sequence of records. A record is one RESP array, so alchemy.resp.RequestParser
reads it: the command's arguments, then one more element, the CRC-32 of those arguments
as RESP bulk strings, in 8 hex digits. A flipped byte anywhere in a record is caught.

The first record is a header, `ALCHEMY-LOG <version> <log id> <snapshot id>`: the snapshot
the log continues from (empty when it starts from nothing). Records between MULTI and EXEC
form one unit, applied all or none.

A record that cannot be read is either a torn tail (nothing readable follows it: the server
stopped mid-write, and the tail is cut) or damage in the middle (valid records follow it:
start-up stops and names the byte offset, since cutting would drop acknowledged writes).
A zero byte where a record would start is the space the log writer keeps written ahead under
`appendfsync always` (writer.py), left by a crash: nothing was written there, and it is cut
like a torn tail.
"""

from dataclasses import dataclass
import os
import zlib

from alchemy.resp import BULK_HEADERS, ProtocolError, RequestParser

MAGIC = b"ALCHEMY-LOG"
VERSION = b"1"
CHUNK = 1 << 20
UNWRITTEN = "unwritten space the log writer kept ahead"
_MULTI = (b"multi", b"MULTI")
_EXEC = (b"exec", b"EXEC")
# An argument's end and the next one's header, by length (BULK_HEADERS' size)
_CRLF_HEADERS = [b"\r\n" + header for header in BULK_HEADERS]


def _body(argv: list) -> bytes:
    return b"".join([b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in argv])


def encode_record(argv: list) -> bytes:
    """One command as a log record."""
    return encode_records((argv,))


def encode_records(commands) -> bytes:
    """Commands (argv lists) as consecutive log records, made in one loop: the server
    makes the records of a loop pass's writes together."""
    records = []
    for argv in commands:
        if len(argv) == 3:
            # Most writes have three arguments (SET, LPUSH, SADD, one HSET field): one
            # join with the lengths' headers from tables costs about half of formatting
            # them, and each argument's CRLF goes with the next header (7 pieces, not 9).
            # An argument too long for the tables raises IndexError (cheaper than three
            # compares).
            first, second, third = argv
            try:
                body = b"".join((BULK_HEADERS[len(first)], first, _CRLF_HEADERS[len(second)],
                                 second, _CRLF_HEADERS[len(third)], third, b"\r\n"))
            except IndexError:
                body = _body(argv)
            records.append(b"*4\r\n%b$8\r\n%08x\r\n" % (body, zlib.crc32(body)))
        else:
            body = _body(argv)
            records.append(b"*%d\r\n%b$8\r\n%08x\r\n"
                           % (len(argv) + 1, body, zlib.crc32(body)))
    return b"".join(records)


def header_record(log_id: bytes, snapshot_id: bytes) -> bytes:
    return encode_record([MAGIC, VERSION, log_id, snapshot_id])


def _check(request: list) -> list | None:
    """The command a parsed record holds, or None when its checksum does not match."""
    if len(request) < 2 or len(request[-1]) != 8:
        return None
    argv = request[:-1]
    try:
        expected = int(request[-1], 16)
    except ValueError:
        return None
    return argv if zlib.crc32(_body(argv)) == expected else None


@dataclass
class Problem:
    offset: int  # where the unreadable record (or the unfinished MULTI) starts
    reason: str
    torn: bool  # nothing readable follows: a torn tail, safe to cut


@dataclass
class Unit:
    offset: int
    end: int
    commands: list  # argv lists, applied all or none


class LogReader:
    """Iterate over the units of a log from `start`; afterwards `end` is where the last
    good unit ends, `problem` says what stopped the reading (None: clean end of file) and
    `header` holds the header's fields when reading started at 0."""

    def __init__(self, path: str, start: int = 0):
        self.path = path
        self.start = start
        self.end = start
        self.problem: Problem | None = None
        self.header: list | None = None
        self.records = 0

    def __iter__(self):
        parser = RequestParser(max_bulk_len=2**62)
        fed = self.start
        offset = self.start  # start of the next record
        pending: Unit | None = None  # an open MULTI
        with open(self.path, "rb") as f:
            f.seek(self.start)
            while True:
                try:
                    request = parser.next()
                except ProtocolError as e:
                    self._stop(offset, str(e), pending)
                    return
                if request is False:
                    chunk = f.read(CHUNK)
                    if chunk:
                        parser.feed(chunk)
                        fed += len(chunk)
                        continue
                    if parser.buffer:
                        self._stop(offset, "incomplete record", pending)
                    elif pending is not None:
                        self._stop(offset, "MULTI without EXEC", pending)
                    return
                end = fed - len(parser.buffer)
                argv = _check(request)
                if argv is None:
                    self._stop(offset, "checksum mismatch", pending)
                    return
                self.records += 1
                if offset == 0:
                    if argv[0] != MAGIC or len(argv) != 4:
                        self._stop(0, "not an Alchemy log (no header)", None)
                        return
                    self.header = argv
                    self.end = end
                elif argv[0] in _MULTI and len(argv) == 1:
                    pending = Unit(offset, end, [])
                elif pending is not None:
                    if argv[0] in _EXEC and len(argv) == 1:
                        pending.end = self.end = end
                        yield pending
                        pending = None
                    else:
                        pending.commands.append(argv)
                else:
                    self.end = end
                    yield Unit(offset, end, [argv])
                offset = end

    def _stop(self, offset: int, reason: str, pending: Unit | None) -> None:
        """Reading stopped at offset; an open transaction is cut from its MULTI."""
        torn = not _valid_record_after(self.path, offset)
        if torn:
            with open(self.path, "rb") as f:
                f.seek(offset)
                if f.read(1) == b"\0":
                    reason = UNWRITTEN
        self.problem = Problem(pending.offset if pending else offset, reason, torn)


def _valid_record_after(path: str, offset: int) -> bool:
    """Does a whole, checksummed record start anywhere after offset? Only read on error."""
    with open(path, "rb") as f:
        f.seek(offset + 1)
        data = f.read()
    at = data.find(b"*")
    while at >= 0:
        parser = RequestParser(max_bulk_len=2**62)
        parser.feed(data[at:at + CHUNK] if len(data) - at > CHUNK else data[at:])
        try:
            request = parser.next()
        except ProtocolError:
            request = False
        if request and _check(request) is not None:
            return True
        at = data.find(b"*", at + 1)
    return False


def read_header(path: str) -> list | None:
    """The header's fields [magic, version, log id, snapshot id], or None if unreadable."""
    reader = LogReader(path)
    for _ in reader:
        break
    return reader.header


def describe(problem: Problem, path: str) -> str:
    size = os.path.getsize(path)
    if problem.torn and problem.reason == UNWRITTEN:
        return (f"{path}: {size - problem.offset} bytes of {UNWRITTEN} at byte offset "
                f"{problem.offset} (the server did not stop cleanly) to cut")
    if problem.torn:
        return (f"{path}: torn last record at byte offset {problem.offset} "
                f"({problem.reason}); {size - problem.offset} bytes to cut")
    return (f"{path}: damaged record at byte offset {problem.offset} ({problem.reason}), "
            "with valid records after it")


def truncate(path: str, size: int) -> None:
    """Cut the log after its last good record, durably."""
    with open(path, "r+b") as f:
        f.truncate(size)
        f.flush()
        os.fsync(f.fileno())

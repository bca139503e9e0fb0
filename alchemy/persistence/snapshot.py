"""Snapshots: the whole dataset in one versioned, checksummed file.

Layout (integers little endian):

    b"ALCHEMY-SNAPSHOT" u16 version
    fields: snapshot id, log id, log offset, creation time (ms)
    type names: u16 count, then each name: the value classes of alchemy.keyspace.TYPES
    per section: b"S" name payload (state beside the keyspaces, e.g. b"functions": the
        FUNCTION libraries; its owner writes and reads the payload, see Origin.sections)
    per non-empty database: b"D" u16 index u64 key count
        per key: u8 type number, i64 deadline ms (-1: none), key, payload
      then, from a forked writer: b"M" u16 index, the marshal (version 2) of a dict of the
        database's other keys, whose values are strings (bytes; up to 4 KiB before version
        5) or, from version 5, hashes in the listpack encoding (exact dicts), and that of a
        dict key -> deadline ms (it may name keys of the D part too; keys already expired
        are dropped on reading)
    b"E" u32 CRC-32 of every byte before it

Byte strings are u64 length + bytes. A payload is a string's bytes; other types use a
codec from CODECS when one is registered for their type name, else the pickle of the value
(trusted: the file is the server's own, in its own directory). A type is found again by
its name, so a type added later needs no change here.

The collection types (list, hash, set, zset) register codecs next to their classes, with
the payload `pack_collection` lays out: u8 format (CODEC_FORMAT, checked on reading), u8
flags of the type, u64 count, u8 width of a length, the lengths, the members back to back,
then a tail of the type's own (a zset's scores). Members of up to 255 bytes cost one byte of
framing each, and packing and unpacking run over whole arrays rather than member by member.

A forked writer owns its copy of the databases and takes the keys marshal cannot walk apart
from the rest (see Keyspace.apart): marshal's version 2 walks a dict, and the dicts in it,
with borrowed references, so the strings and small hashes, most of the objects of a
typical dataset, are read without a write to their reference counts, and the pages holding
them stay shared with the server (bench/cow.py). The server's own SAVE writes every key in
the D part.

The snapshot names the log and the offset in it that its data includes: start-up loads the
snapshot, then replays that log from that offset.
"""

from array import array
import ctypes
from dataclasses import dataclass, field
from itertools import accumulate
import marshal
import os
import pickle
import struct
import sys
import time
import zlib
from typing import Callable

from alchemy.keyspace import TYPES, now_ms

MAGIC = b"ALCHEMY-SNAPSHOT"
VERSION = 5  # 2: lists, hashes, sets and sorted sets in their own codecs, not pickle;
#               3: sections (version 2 files, which have none, are still read);
#               4: short strings in one marshal per database;
#               5: listpack hashes and strings of any length in that marshal too
READABLE = (2, 3, 4, 5)
_MARSHAL_VERSION = 2  # later versions keep a reference to each object they write
CODECS: dict[str, tuple[Callable, Callable]] = {}  # type name -> (value to bytes, back)
_BATCH = 1 << 16
CODEC_FORMAT = 1  # the first byte of a collection codec's payload
_BY_WIDTH = {array(code).itemsize: code for code in "BHIQ"}  # bytes per length -> array type
_SWAP = sys.byteorder == "big"  # payload arrays are little endian


class SnapshotError(Exception):
    pass


def _c_function(library, name: str, restype, *argtypes):
    function = getattr(library, name)
    function.restype, function.argtypes = restype, argtypes
    return function


_LIBC = ctypes.CDLL(None, use_errno=True)
_fdopen = _c_function(_LIBC, "fdopen", ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
_ferror = _c_function(_LIBC, "ferror", ctypes.c_int, ctypes.c_void_p)
_fclose = _c_function(_LIBC, "fclose", ctypes.c_int, ctypes.c_void_p)
# CPython's C API (Data marshalling support): marshal.dumps's walk, written through a stdio
# stream as it goes instead of into one bytes object.
_marshal_to_stream = _c_function(ctypes.pythonapi, "PyMarshal_WriteObjectToFile", None,
                                 ctypes.py_object, ctypes.c_void_p, ctypes.c_int)


# -- codec helpers ----------------------------------------------------------------------

def _array_bytes(values: array) -> bytes:
    if _SWAP:
        values.byteswap()
    return values.tobytes()


def _bytes_array(code: str, data) -> array:
    values = array(code)
    values.frombytes(data)
    if _SWAP:
        values.byteswap()
    return values


def pack_collection(flags: int, items: list, tail: bytes = b"") -> bytes:
    """A collection codec's payload: format byte, flags byte, the byte strings items, then
    tail (more data of the type's own). O(total length)."""
    longest = max(map(len, items), default=0)
    width = min(width for width in _BY_WIDTH if longest < 1 << 8 * width)
    lengths = _array_bytes(array(_BY_WIDTH[width], map(len, items)))
    head = struct.pack("<BBQB", CODEC_FORMAT, flags, len(items), width)
    return b"".join((head, lengths, *items, tail))


def unpack_collection(payload: bytes, name: str) -> tuple[int, list, int]:
    """What pack_collection wrote: (flags, items, where the tail starts)."""
    if payload[0] != CODEC_FORMAT:
        raise SnapshotError(f"{name} value in payload format {payload[0]}, this server "
                            f"reads {CODEC_FORMAT}")
    flags, count, width = struct.unpack_from("<BQB", payload, 1)
    at = 11
    lengths = _bytes_array(_BY_WIDTH[width], payload[at:at + width * count])
    ends = list(accumulate(lengths, initial=at + width * count))
    return flags, [payload[start:end] for start, end in zip(ends, ends[1:])], ends[-1]


def pack_doubles(values) -> bytes:
    return _array_bytes(array("d", values))


def unpack_doubles(data: bytes, at: int) -> list:
    return _bytes_array("d", data[at:]).tolist()


@dataclass
class Origin:
    snapshot_id: bytes
    log_id: bytes
    log_offset: int
    created_ms: int
    sections: dict = field(default_factory=dict)  # name -> payload, written and read back


class _Out:
    """A file written with a running CRC-32, in batched writes."""

    def __init__(self, f):
        self.f = f
        self.crc = 0
        self.parts: list = []
        self.size = 0

    def put(self, data: bytes) -> None:
        if len(data) > _BATCH:  # written as it is: joining it would copy it
            self.flush()
            self.crc = zlib.crc32(data, self.crc)
            self.f.write(data)
            return
        self.parts.append(data)
        self.size += len(data)
        if self.size > _BATCH:
            self.flush()

    def blob(self, data: bytes) -> None:
        self.put(struct.pack("<Q", len(data)))
        self.put(data)

    def flush(self) -> None:
        chunk = b"".join(self.parts)
        self.crc = zlib.crc32(chunk, self.crc)
        self.f.write(chunk)
        self.parts, self.size = [], 0


def _class_names() -> dict[type, str]:
    return {cls: kind.name for cls, kind in TYPES.items()}


def _payload(name: str, value) -> bytes:
    return bytes(value) if name == "string" else CODECS[name][0](value)


def write(dbs: list, path: str, origin: Origin, owned: bool = False,
          key_delay: float = 0) -> None:
    """Write the databases to path through a temporary file: fsynced, then renamed into
    place and the directory fsynced, so path is always a whole snapshot."""
    temporary = f"{path}.tmp-{os.getpid()}"
    write_file(dbs, temporary, origin, owned, key_delay)
    place(temporary, path)


def write_file(dbs: list, path: str, origin: Origin, owned: bool = False,
               key_delay: float = 0) -> None:
    """Write the databases to path itself and fsync it (not yet in place: see place).
    owned: the caller is a forked child whose copy of dbs this may take apart.
    key_delay: seconds to wait per key written (rdb-key-save-delay), for tests."""
    names = _class_names()
    numbers: dict[type, int] = {}
    table: list[str] = []
    for cls in TYPES:  # strings are bytes and bytearray: one number for both
        if names[cls] not in table:
            table.append(names[cls])
        numbers[cls] = table.index(names[cls])
    with open(path, "w+b") as f:  # read too: see _streamed_blob
        out = _Out(f)
        out.put(MAGIC + struct.pack("<H", VERSION))
        out.blob(origin.snapshot_id)
        out.blob(origin.log_id)
        out.put(struct.pack("<QQ", origin.log_offset, origin.created_ms))
        out.put(struct.pack("<H", len(table)))
        for name in table:
            out.blob(name.encode())
        for name, payload in origin.sections.items():
            out.put(b"S")
            out.blob(name)
            out.blob(payload)
        for db in dbs:
            if db.data:
                if key_delay:
                    time.sleep(key_delay * len(db.data))
                _write_db(out, db, numbers, names, owned)
        out.put(b"E")
        out.flush()
        f.write(struct.pack("<I", out.crc))
        f.flush()
        os.fsync(f.fileno())


def place(temporary: str, path: str) -> None:
    """Rename a whole, fsynced file over path and fsync the directory: a crash leaves
    either the old file or the new one there, never a part."""
    os.replace(temporary, path)
    directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _write_db(out: _Out, db, numbers: dict, names: dict, owned: bool) -> None:
    """O(N) in the keys and elements of db. Expired keys are left out."""
    now = now_ms()
    expires = db.expires
    items = _take_apart(db) if owned else db.data.items()
    live = [(key, value, expires.get(key, -1)) for key, value in items
            if not 0 <= expires.get(key, -1) <= now]
    out.put(b"D" + struct.pack("<HQ", db.index, len(live)))
    pack = struct.Struct("<Bq").pack
    for key, value, deadline in live:
        cls = type(value)
        out.put(pack(numbers[cls], deadline))
        out.blob(key)
        if names[cls] == "string" or names[cls] in CODECS:
            out.blob(_payload(names[cls], value))
        else:
            _streamed_blob(out, lambda fd: _pickle_to(fd, value))
    if owned and db.data:
        out.put(b"M" + struct.pack("<H", db.index))
        _streamed_blob(out, lambda fd: _marshal_to(fd, db.data))
        out.blob(marshal.dumps(expires, _MARSHAL_VERSION))


def _streamed_blob(out: _Out, write: Callable[[int], None]) -> None:
    """out.blob(data) for the data write(fd) writes into the file at its offset, without
    holding that data in memory: the length is filled in after, and the CRC read back from
    the file."""
    out.flush()
    f = out.f
    start = f.tell()
    f.write(bytes(8))  # the length, once known
    f.flush()
    write(f.fileno())
    end = f.seek(0, os.SEEK_END)  # also the buffered file's idea of where it is
    os.pwrite(f.fileno(), struct.pack("<Q", end - start - 8), start)
    for at in range(start, end, 1 << 20):
        out.crc = zlib.crc32(os.pread(f.fileno(), min(1 << 20, end - at), at), out.crc)


def _marshal_to(fd: int, value: dict) -> None:
    """marshal.dumps(value, 2) written to fd as the walk makes it, so the child never holds
    it all (about 120 bytes a key: bench/cow.py).

    Unlike marshal.dumps, the C call reports no unmarshallable object (it would write a
    marshal that does not load): value must hold only bytes and dicts of bytes, as
    _take_apart leaves it."""
    copy = os.dup(fd)  # shares the file offset; the stream's fclose closes it
    stream = _fdopen(copy, b"wb")
    if not stream:
        os.close(copy)
        raise OSError(ctypes.get_errno(), "fdopen of the snapshot file failed")
    try:
        _marshal_to_stream(value, stream, _MARSHAL_VERSION)
    finally:
        failed = _ferror(stream)
        failed = _fclose(stream) or failed
    if failed:
        raise OSError(ctypes.get_errno(), "writing the snapshot's marshal failed")


def _pickle_to(fd: int, value) -> None:
    """pickle.dumps(value, 5) written to fd frame by frame (a SQL table is one value)."""
    with open(fd, "wb", closefd=False) as f:
        pickle.Pickler(f, protocol=5).dump(value)


def _take_apart(db) -> list:
    """Remove from db.data the keys holding anything but a bytes string or a listpack hash
    (an exact dict), and return them as (key, value) pairs: what is left is for one marshal
    walk."""
    data = db.data
    apart = []
    for key in db.apart:
        value = data.get(key)
        if value is not None and type(value) is not bytes and type(value) is not dict:
            apart.append((key, value))
    for key, _ in apart:
        del data[key]
    return apart


class _In:
    def __init__(self, data: bytes, path: str):
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SnapshotError(f"{self.path}: truncated at byte {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def blob(self) -> bytes:
        return self.take(self.unpack("<Q")[0])


def read(path: str, dbs: list) -> Origin:
    """Load a snapshot into dbs (replacing nothing: they are expected empty); its origin."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(MAGIC):
        raise SnapshotError(f"{path}: not an Alchemy snapshot")
    if len(data) < len(MAGIC) + 7 or zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise SnapshotError(f"{path}: checksum mismatch (damaged or incomplete file)")
    into = _In(data[:-4], path)
    into.take(len(MAGIC))
    (version,) = into.unpack("<H")
    if version not in READABLE:
        raise SnapshotError(f"{path}: snapshot version {version}, this server reads "
                            f"{', '.join(map(str, READABLE))}")
    snapshot_id, log_id = into.blob(), into.blob()
    log_offset, created = into.unpack("<QQ")
    by_name = {}
    for cls, kind in TYPES.items():
        by_name.setdefault(kind.name, cls)
    table = []
    for _ in range(into.unpack("<H")[0]):
        name = into.blob().decode()
        if name not in by_name:
            raise SnapshotError(f"{path}: values of unknown type '{name}'")
        table.append(name)
    sections = {}
    while True:
        tag = into.take(1)
        if tag == b"E":
            break
        if tag == b"S":
            name = into.blob()
            sections[name] = into.blob()
            continue
        if tag not in (b"D", b"M"):
            raise SnapshotError(f"{path}: bad section at byte {into.pos - 1}")
        (index,) = into.unpack("<H")
        if index >= len(dbs):
            raise SnapshotError(f"{path}: database {index} but only {len(dbs)} configured")
        if tag == b"D":
            _read_db(into, dbs[index], into.unpack("<Q")[0], table)
        else:
            _read_marshalled(into, dbs[index])
    return Origin(snapshot_id, log_id, log_offset, created, sections)


def _read_db(into: _In, db, count: int, table: list) -> None:
    for _ in range(count):
        number, deadline = into.unpack("<Bq")
        key = into.blob()
        payload = into.blob()
        name = table[number]
        if name == "string":
            value = payload
        elif name in CODECS:
            value = CODECS[name][1](payload)
        else:
            value = pickle.loads(payload)
        db.set(key, value)
        if deadline >= 0:
            db.expire_at(key, deadline)


def _read_marshalled(into: _In, db) -> None:
    """An M part: strings and listpack hashes, then deadlines (of these keys and maybe
    others)."""
    values, deadlines = marshal.loads(into.blob()), marshal.loads(into.blob())
    if type(values) is not dict or type(deadlines) is not dict:
        raise SnapshotError(f"{into.path}: bad marshalled keys of database {db.index}")
    now = now_ms()
    live = {}
    for key, deadline in deadlines.items():
        if key in values:
            if deadline <= now:
                del values[key]
            else:
                live[key] = deadline
    for key in [key for key, value in values.items() if type(value) is dict]:
        db.set(key, values.pop(key))
    if values:
        db.set_many(values.keys(), values.values())
    for key, deadline in live.items():
        db.expire_at(key, deadline)

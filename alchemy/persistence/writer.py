"""The log writer: the forked child that appends log records and fsyncs them.

The server's event loop feeds records through a pipe; this loop appends whatever has
arrived, fsyncs by policy and reports the confirmed end of the file (8 bytes, little
endian) on a second pipe. Under `always`, everything that arrived while one fsync ran is
written and covered by the next one: one fsync acknowledges many writes (group commit).
Under `everysec` an fsync runs at most once a second; under `no` the report follows the
write and the kernel decides when data reaches the disk; under both, records gather for
GATHER seconds between reads. End of input: fsync, report, exit.

Under `always` the writer keeps about RESERVE bytes of zeros written past the end of the
records and writes the records over them: an fdatasync that leaves the file's size and
blocks alone needs no journal commit, and under load that commit is most of its time (an
fdatasync's median 408 us -> 140 us during redis-benchmark SET, -c 50). The zeros are cut
when the writer stops; after a crash, start-up finds them where the next record would start
and cuts them (log.py).
"""

import fcntl
import os
import select
import struct
import time

EVERYSEC = 1.0
READ_SIZE = 1 << 20
# Under everysec and no, replies wait only for their records to be in the pipe, not for
# this process: after a write it lets records gather for this long, so it wakes a few
# hundred times a second instead of once per pass of the server's loop, leaving the CPU to
# the server and its clients.
GATHER = 0.002
RESERVE = 8 << 20
# Records only grow the file: fdatasync makes them and the new size durable without the
# inode's other metadata, several times cheaper than fsync on ext4 (Redis does the same).
_sync = getattr(os, "fdatasync", os.fsync)


def run_writer(source: int, ack: int, path: str, policy: str, keep: int) -> None:
    """Append what arrives on source to path, first cutting the file to `keep` bytes:
    whatever a writer before this one wrote past the confirmed end is sent again."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held until exit: start-up waits for it (persistence)
    os.ftruncate(fd, keep)
    os.fsync(fd)
    os.write(ack, struct.pack("<Q", keep))  # ready
    end = synced = reserved = keep
    last_sync = time.monotonic()
    os.set_blocking(source, False)
    while True:
        timeout = None
        if policy == "everysec" and end != synced:
            timeout = max(0.0, last_sync + EVERYSEC - time.monotonic())
        readable, _, _ = select.select([source], [], [], timeout)
        closed = False
        if readable:
            data, closed = _drain(source)
            if data:
                if policy == "always" and end + len(data) > reserved:
                    reserved = _reserve(fd, end, end + len(data) + RESERVE)
                _write_all(fd, data, end)
                end += len(data)
        if closed or policy == "always" or (
                policy == "everysec" and time.monotonic() - last_sync >= EVERYSEC):
            if end != synced:
                _sync(fd)
                synced = end
            last_sync = time.monotonic()
            os.write(ack, struct.pack("<Q", synced))
        elif policy == "no" and readable:
            os.write(ack, struct.pack("<Q", end))
        if closed:
            if reserved > end:
                os.ftruncate(fd, end)
                os.fsync(fd)
            os.close(fd)
            return
        if readable and policy != "always":
            time.sleep(GATHER)


def _drain(source: int) -> tuple[bytes, bool]:
    """Everything readable now, and whether the writer end was closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(source, READ_SIZE)
        except BlockingIOError:
            return b"".join(chunks), False
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _reserve(fd: int, end: int, limit: int) -> int:
    """Write zeros from end to limit (made durable by the next fdatasync, with the
    records): the new end of the space reserved. A file that cannot grow that far (a full
    disk, a size limit) gets none: the records are then appended as they come, and only
    a write of records that fails stops the writer."""
    try:
        _write_all(fd, bytes(limit - end), end)
    except OSError:
        os.ftruncate(fd, end)
        return end
    return limit


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written

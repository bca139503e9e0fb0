"""The server's side of the log: feeding the writer child without blocking the loop.

Every propagated write becomes records (a SELECT first when the database differs from the
previous record's; MULTI ... EXEC around a unit of several commands) appended to
`unconfirmed`, the bytes the writer has not yet reported safe. While a send is coming, a
lone command in the database of the last record only joins `waiting`
(Database.call appends it there when its database is `open_db`): the records of a loop
pass's writes are made together, when `end` is read or the send runs. They go down a non-blocking
pipe; when it is full the rest waits for loop.add_writer. The writer reports the confirmed
end of the file on a second pipe (loop.add_reader); confirmed bytes are dropped.

A reply that shows a write leaves only once the write is `released`: fsynced under
`appendfsync always`; under `everysec` and `no`, in the pipe of a writer that has reported
once (it holds the log's lock then, and drains the pipe even if the server dies, so a
crash of the server alone loses nothing answered). Writes are counted
as they are handed over, and a reply waits for a count, not an offset: counting costs a
connection nothing, where an offset would need the records made on every read. `_marks`
says which count each made record ends; `released` is the count whose records the writer
has (or has fsynced). Connections hold such replies (`hold`) until the one pipe write that
carries the writes of a loop pass (scheduled by `propagate`) has taken them, or longer when
it cannot take everything yet: the pipe is full, the writer is being replaced, or the log
was just turned on and has no base yet. A holder waits for the next mark made, or the last
one if every write is made: it joins that mark's list, not a queue of (count, callback)
pairs, so a pass's send releases its holders without a test or a tuple per reply.

If the writer dies (its life pipe reaches end of file: children.py) a new one is forked at
once: it cuts the file back to the confirmed end and everything unconfirmed is sent again,
so nothing is lost or doubled. While no writer can be started, `refusal` is the error that
write commands get; reads go on.

Offsets (`confirmed`, `end`) and counts (`released`) only grow, across log
rewrites too: a rewrite replaces the file by a shorter one (`pause`, then `resume` on the
new file), and `shift` is how far the offsets run ahead of the current file's.
"""

import errno
import fcntl
import logging
import os
import struct
import time
from collections import deque
from typing import Callable

from alchemy.persistence import children
from alchemy.persistence.fork import fork_child
from alchemy.persistence.log import encode_record, encode_records
from alchemy.persistence.writer import run_writer

log = logging.getLogger("alchemy")

PIPE_SIZE = 1 << 20
RETRY_SECONDS = 1.0
_MULTI = encode_record([b"MULTI"])
_EXEC = encode_record([b"EXEC"])
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class AppendLog:
    def __init__(self, path: str, policy: str, size: int, loop=None):
        self.path = path
        self.policy = policy
        self.confirmed = size  # end of the file the writer reported safe
        self.unconfirmed = bytearray()  # bytes after `confirmed`, kept until reported safe
        self.sent = size  # end of what went down the current writer's pipe
        self._writer_ready = False  # has the current writer reported (holds the lock)?
        self._end = size  # end of the records in `unconfirmed`
        self.waiting: list = []  # argv lists in database `_db`, records not made yet
        self.open_db = -1  # `_db` while a send is coming, else -1: see the docstring
        self._made = 0  # writes handed over whose records are made
        # How many writes replies may show (see the docstring): read for every read that
        # writes, so kept up to date rather than computed.
        self.released = 0
        self._marks: deque = deque()  # (end offset, handed, holders) of records not yet released
        self._holders: list = []  # holders waiting for `waiting`: the next mark's
        self._ready: list = []  # holders of released marks, not yet told
        self.shift = 0  # offsets minus positions in the current file (grows at rewrites)
        self.refusal: str | None = None
        self.pid = 0
        self.loop = loop
        self._pipe = -1
        self._acks = -1
        self._ack_buffer = b""
        self._writing = False
        self._db = -1  # database of the last record, -1: unknown (send SELECT)
        self._quick_deaths = 0
        self._started_at = 0.0
        self._replacing = False
        self._send_scheduled = False
        self._on_stopped: Callable[[], None] | None = None  # pause: call once the writer exits
        self.last_error = ""

    def _advanced(self) -> None:
        """`confirmed`, `sent` or the policy changed: so may `released`."""
        # In the pipe is safe only once the writer has reported: see _read_acks.
        safe = max(self.sent, self.confirmed) if self._writer_ready and \
            self.policy != "always" else self.confirmed
        marks = self._marks
        while marks and marks[0][0] <= safe:
            _, self.released, holders = marks.popleft()
            self._ready += holders

    @property
    def end(self) -> int:
        """End of the log once everything handed over is written."""
        if self.waiting:
            self._make_records()
        return self._end

    def _make_records(self) -> bytes:
        waiting, self.waiting = self.waiting, []
        records = encode_records(waiting)
        self.unconfirmed += records
        self._made += len(waiting)
        self._ended()
        return records

    def _ended(self) -> None:
        """Records were made of every write handed over."""
        self._end = self.confirmed + len(self.unconfirmed)
        self._marks.append((self._end, self._made, self._holders))
        self._holders = []

    @property
    def file_end(self) -> int:
        """Where `end` falls in the current file: the log offset a snapshot records."""
        return self.end - self.shift

    @property
    def file_confirmed(self) -> int:
        return self.confirmed - self.shift

    # -- writer child ---------------------------------------------------------------------

    def start(self, loop=None) -> None:
        """Fork the writer; with a loop, watch it and feed it without blocking."""
        if loop is not None:
            self.loop = loop
        if self.pid or self._on_stopped is not None:
            return  # a writer runs, or a paused log waits for resume (a retry came late)
        source, pipe = os.pipe()
        acks, ack_end = os.pipe()
        try:
            fcntl.fcntl(pipe, _F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass  # the default size only means more trips through add_writer
        keep, path, policy = self.file_confirmed, self.path, self.policy
        try:
            self.pid, life = fork_child("log writer", [source, ack_end],
                                        lambda: run_writer(source, ack_end, path, policy, keep),
                                        outlive_server=True)
        except (OSError, RuntimeError) as e:
            for fd in (source, pipe, acks, ack_end):
                os.close(fd)
            self._cannot_start(f"fork failed: {e.strerror}")
            return
        os.close(source)
        os.close(ack_end)
        children.watch(self.pid, life, self.loop, self._writer_exited)
        self._pipe, self._acks = pipe, acks
        self._ack_buffer = b""
        self._started_at = time.monotonic()
        self.sent = self.confirmed
        self._writer_ready = False
        self._advanced()
        os.set_blocking(pipe, False)
        os.set_blocking(acks, False)
        if self.loop is not None:
            self.loop.add_reader(acks, self._read_acks)
        self._send()

    def _cannot_start(self, why: str) -> None:
        self.last_error = why
        self.refusal = f"MISCONF Errors writing to the AOF file: {why}"
        log.warning("Cannot start the log writer (%s): refusing writes, retrying", why)
        if self.loop is not None:
            self.loop.call_later(RETRY_SECONDS, self.start)

    def change_policy(self, policy: str) -> None:
        """CONFIG SET appendfsync: the writer finishes (fsyncs, reports, exits) and one with
        the new policy takes over. With none running, the next one started has it."""
        self.policy = policy
        self._advanced()
        if self.pid:
            self._replacing = True
            self._stop_feeding()

    def pause(self, on_stopped: Callable[[], None]) -> None:
        """Let the writer finish (fsync, report, exit), then call on_stopped: the file is
        then the server's alone, whole up to `file_confirmed`. Writes go on meanwhile and
        wait in memory until `resume`."""
        self._on_stopped = on_stopped
        if self.pid:
            self._stop_feeding()
        else:
            self.loop.call_soon(self._stopped)

    def resume(self, new_size: int | None = None) -> None:
        """Start a writer again after pause; new_size: the file was replaced by one of that
        many bytes, which holds everything confirmed."""
        self._on_stopped = None
        if new_size is not None:
            self.shift = self.confirmed - new_size
        self.start()

    def _stopped(self) -> None:
        on_stopped = self._on_stopped
        if on_stopped is not None:
            on_stopped()

    def _stop_feeding(self) -> None:
        self.open_db = -1  # no send is coming from add_writer now
        if self._pipe >= 0:
            if self._writing:
                self.loop.remove_writer(self._pipe)
                self._writing = False
            os.close(self._pipe)
            self._pipe = -1

    def _writer_exited(self, status: int) -> None:
        self._read_last_acks()
        self._close_pipes()
        self.pid = 0
        if self._on_stopped is not None:
            self._replacing = False
            self._stopped()
            return
        if self._replacing and status == 0:
            self._replacing = False
            self.start()
            return
        code = os.waitstatus_to_exitcode(status)
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        log.warning("The log writer %s; %d bytes unconfirmed, starting a new one", how,
                    len(self.unconfirmed))
        quick = time.monotonic() - self._started_at < 1.0
        self._quick_deaths = self._quick_deaths + 1 if quick else 0
        if self._quick_deaths >= 3:
            self._quick_deaths = 0
            self._cannot_start(f"the log writer {how} repeatedly")
            return
        self.start()

    def _close_pipes(self) -> None:
        self.open_db = -1  # no send is coming from add_writer now
        if self._pipe >= 0:
            if self._writing and self.loop is not None:
                self.loop.remove_writer(self._pipe)
            os.close(self._pipe)
        if self._acks >= 0:
            if self.loop is not None:
                self.loop.remove_reader(self._acks)
            os.close(self._acks)
        self._pipe = self._acks = -1
        self._writing = False

    def reset_database(self) -> None:
        """Make the next record select its database: a reader may start from here."""
        if self.waiting:
            self._make_records()
        self._db = self.open_db = -1

    # -- feeding --------------------------------------------------------------------------

    def propagate(self, commands: list) -> None:
        """Append the writes of one command (a list of (db index, argv)) as one unit."""
        if self.waiting:
            self._make_records()
        self.unconfirmed += b"".join(self._records(commands))
        self._made += 1
        self._ended()
        self._grew()

    def propagate_one(self, index: int, argv: list) -> None:
        """propagate([(index, argv)]), most writes, without the list."""
        if index != self._db:
            self.propagate([(index, argv)])
            return
        self.waiting.append(argv)
        self._grew()

    def _grew(self) -> None:
        """Writes were handed over: send them, unless a send is coming. Either way one
        comes now, so until it runs writes in the last record's database may just wait."""
        if not (self._writing or self._send_scheduled):
            if self.loop is None:
                self._send()
                return
            # One write for everything the commands of this loop iteration logged.
            self._send_scheduled = True
            self.loop.call_soon(self._send)
        self.open_db = self._db

    def _records(self, commands: list) -> list:
        records = []
        if len(commands) > 1:
            records.append(_MULTI)
        for index, argv in commands:
            if index != self._db:
                records.append(encode_record([b"SELECT", b"%d" % index]))
                self._db = index
            records.append(encode_record(argv))
        if len(commands) > 1:
            records.append(_EXEC)
        return records

    def _send(self) -> None:
        self._send_scheduled = False
        if self.policy == "always" and self._acks >= 0 and self.sent > self.confirmed:
            # The fsync of the previous pass's records has usually ended by now: releasing
            # its replies here, not in the next pass's callbacks, lets those clients' next
            # requests join that pass (SET, -c 50: 36.6k -> 39.1k req/s, six runs each).
            self._read_acks()
        self.open_db = -1  # set again by _grew if this send leaves some for add_writer
        unsent = self._end - self.sent
        records = self._make_records() if self.waiting else b""
        if self._pipe < 0:
            return
        if unsent:
            with memoryview(self.unconfirmed) as view:  # released before the buffer shrinks
                written = self._write(view[self.sent - self.confirmed:])
        else:  # as a rule: the records made now are all there is to send, written as they are
            written = self._write(records) if records else 0
        if written is None:
            return  # the writer is gone: its exit is handled where it is reaped
        self.sent += written
        self._advanced()
        if self._ready:
            self._release_holders()
        pending = self.sent < self._end
        if pending != self._writing and self.loop is not None:
            if pending:
                self.loop.add_writer(self._pipe, self._send)
            else:
                self.loop.remove_writer(self._pipe)
            self._writing = pending

    def _write(self, data) -> int | None:
        """Write what the pipe takes of data now: how much, None if the writer is gone."""
        try:
            return os.write(self._pipe, data)
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno == errno.EPIPE:
                return None
            raise

    def _read_last_acks(self) -> None:
        """The reports an exited writer left in the pipe (reading cannot block now)."""
        if self._acks >= 0:
            try:
                while self._read_acks():
                    pass
            except OSError:
                pass

    def _read_acks(self) -> bool:
        """Take the writer's reports; False when there is nothing more to read now."""
        try:
            data = os.read(self._acks, 1 << 16)
        except BlockingIOError:
            return False
        if not data:
            # The writer is exiting: its life pipe tells (children.py). Stop reading.
            if self.loop is not None:
                self.loop.remove_reader(self._acks)
            return False
        data = self._ack_buffer + data
        whole = len(data) - len(data) % 8
        self._ack_buffer = data[whole:]
        if whole:
            self.refusal = None  # a writer that reports is working (its first report
            # comes as soon as it has opened the file)
            if not self._writer_ready:
                # Its first report says it holds the file's lock, which a restart after
                # a crash waits for (persistence._wait_for_writer) before reading the log:
                # from now on what is in the pipe reaches that restart. Before it, a
                # server killed right after a reply could restart, read the log, and
                # lose the record to this writer's later append and its successor's
                # truncation.
                self._writer_ready = True
                self._advanced()
            (offset,) = struct.unpack_from("<Q", data, whole - 8)
            self._confirm(offset + self.shift)
        return True

    def _confirm(self, offset: int) -> None:
        if offset > self.confirmed:
            del self.unconfirmed[:offset - self.confirmed]
            self.confirmed = offset
            self._advanced()
        if self._ready:
            self._release_holders()

    def _release_holders(self) -> None:
        ready, self._ready = self._ready, []  # holds made meanwhile go to new lists
        for holder in ready:
            holder.release_held()

    def release_all(self) -> None:
        """Drop every unconfirmed byte and release every holder: the log is being given up
        (turned off, or turned on and its base failed)."""
        self._confirm(self.end)

    def hold(self, holder) -> bool:
        """Whether replies may not show every write handed over yet: then
        holder.release_held() runs once they may, once for each True."""
        if self.waiting:
            self._holders.append(holder)
            return True
        if self._made <= self.released:
            return False
        self._marks[-1][2].append(holder)  # every write is made: the last mark has them
        return True

    # -- stopping -------------------------------------------------------------------------

    def close(self) -> None:
        """Hand the writer everything, let it fsync, and wait for it to exit (blocking:
        used at shutdown only)."""
        self.refusal = "MISCONF Errors writing to the AOF file: the server is shutting down"
        if self.waiting:
            self._make_records()
        self.open_db = -1
        if self.pid:
            children.forget(self.pid)
            if self._pipe >= 0:
                os.set_blocking(self._pipe, True)
                rest = bytes(self.unconfirmed[self.sent - self.confirmed:])
                try:
                    while rest:
                        rest = rest[os.write(self._pipe, rest):]
                except OSError:
                    pass
            if self._acks >= 0:
                os.set_blocking(self._acks, True)
            pid = self.pid
            self._finish_acks()
            _, status = os.waitpid(pid, 0)
            self.pid = 0
            if status:
                log.warning("The log writer failed at shutdown: status %d", status)
        self._close_pipes()
        self._on_stopped = None
        if self.unconfirmed:
            self._append_here()

    def _append_here(self) -> None:
        """Write and fsync what no writer took (none was running, or one was stopping for
        a policy change or a rewrite when shutdown came): shutdown only."""
        try:
            with open(self.path, "r+b") as f:
                f.truncate(self.file_confirmed)
                f.seek(self.file_confirmed)
                f.write(self.unconfirmed)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            log.warning("Cannot write the end of the log at shutdown: %s", e)
            return
        self._confirm(self.end)

    def _finish_acks(self) -> None:
        self.open_db = -1
        if self._pipe >= 0:
            if self._writing and self.loop is not None:
                self.loop.remove_writer(self._pipe)
                self._writing = False
            os.close(self._pipe)
            self._pipe = -1
        if self._acks < 0:
            return
        buffered = b""
        while True:
            chunk = os.read(self._acks, 1 << 16)
            if not chunk:
                break
            buffered += chunk
        whole = len(buffered) - len(buffered) % 8
        if whole:
            self._confirm(struct.unpack_from("<Q", buffered, whole - 8)[0] + self.shift)

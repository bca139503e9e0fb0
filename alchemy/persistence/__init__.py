"""Durability: the append-only log a forked child writes, and forked snapshots.

`Persistence` is the state one Database keeps about its files: at start-up it loads the
snapshot and replays the log (`load`), then starts the log writer (`start`); SAVE, BGSAVE,
BGREWRITEAOF and INFO read and update it. The modules:

- log.py: the record format, reading a log back, torn tails and damage;
- writer.py: the log writer child's loop; appendlog.py: the server's side of it;
- snapshot.py: the snapshot format; fork.py and children.py: forking and reaping.

The data on disk is a pair: the snapshot (dbfilename) and the log (appendfilename). The
snapshot names a log and an offset in it; the log's header names the snapshot it starts
from. Start-up loads the snapshot, then replays the log from that offset when the snapshot
names this log, or from its start when the log starts from this snapshot.

Rewriting the log (BGREWRITEAOF, or automatically once the pair has grown by
auto-aof-rewrite-percentage of its size after the last rewrite and past
auto-aof-rewrite-min-size) reuses that pairing, so loading needs nothing new:

1. A forked child writes a fresh snapshot S to `<dbfilename>.rewrite` and fsyncs it. S
   names the current log and its end at the fork, O. The log goes on growing meanwhile.
2. When the child succeeded, the log writer is paused: it writes and fsyncs what it has
   and exits (writes go on and wait in memory, replies under `always` with them).
3. The server writes `<appendfilename>.rewrite`: a header naming S, then the old log's
   bytes from O to its end (the writes that arrived while the child worked); fsync.
4. S is renamed over the snapshot, the directory fsynced: the pair is now S + old log,
   read from O, which holds everything.
5. The new log is renamed over the old one, the directory fsynced: the pair is S + new
   log, read from its start. A writer starts on the new file with what waited in memory.

A crash before 4 leaves the old pair untouched (the .rewrite files are removed at
start-up); between 4 and 5 the old log continues S; after 5 the new one does. The old log
is only replaced by a complete, fsynced file. While a rewrite runs BGSAVE is refused or
scheduled (as Redis does with another child active); SAVE is allowed, since step 4 installs
S together with the log that continues it.

`CONFIG SET appendonly` switches the log at run time, as Redis does. Turning it on is a
rewrite whose base is the state at the fork: from the fork on, writes wait in memory in a
log without a writer (`awaiting_base`; under `always` their replies wait too), and step 5
starts the writer on the new log, which then takes them. If the rewrite fails the waiting
writes are dropped and their replies released (the next attempt's base holds them), and
the rewrite is tried again. Turning it off hands the writer everything, lets it fsync and
exit, and stops a rewrite in progress. The files stay: while the log is off, a snapshot
names the old log at its end, so turning it on again (or restarting with it on) replays
nothing twice.

A log writer holds an exclusive lock (flock) on its file while it runs. When the server is
killed its writer goes on draining the pipe into the log; start-up waits for that lock to
be free before reading the log, so a restart right after a crash sees every record the
killed server acknowledged (and two servers never write one log).
"""

import fcntl
import glob
import logging
import os
import time

from alchemy.errors import AlchemyError
from alchemy.persistence import children, log as logfile, snapshot
from alchemy.persistence.appendlog import AppendLog
from alchemy.persistence.fork import FORKS, fork_child

log = logging.getLogger("alchemy")

BGSAVE_RETRY_SECONDS = 5  # after a failed background save, as Redis waits


WRITER_WAIT = 10.0  # seconds start-up waits for the writer of a killed server to finish


class StartupError(Exception):
    """The data files cannot be loaded as they are; the message says which and where."""


class Persistence:
    def __init__(self, database):
        self.database = database
        self.config = database.config
        self.appendlog: AppendLog | None = None
        self.log_id = b""
        self.last_save = int(time.time())
        self.dirty_at_save = 0
        self.saves = 0
        self.bgsave_pid = 0
        self.bgsave_started = 0.0
        self.last_bgsave_try = 0.0
        self._dirty_at_fork = 0
        self.last_bgsave_ok = True
        self.last_bgsave_seconds = -1
        self.loading = False
        self.loop = None
        self.bgsave_scheduled = False
        self.rewrite_pid = 0  # the rewrite's snapshot child; -1: starting after this command
        self.rewrite_origin: snapshot.Origin | None = None
        self.rewriting = False  # from the fork until the new log is in place (or failed)
        self.rewrite_scheduled = False
        self.rewrite_started = 0.0
        self.last_rewrite_ok = True
        self.last_rewrite_seconds = -1
        self.rewrites = 0
        self.base_snapshot_size = 0  # the snapshot the log continues (size when loaded)
        self.base_size = 0  # the pair's size after start-up or the last rewrite
        self.awaiting_base = False  # appendonly turned on, its rewrite not yet in place

    def path(self, name: str) -> str:
        return os.path.join(self.config["dir"], self.config[name])

    # -- start-up -------------------------------------------------------------------------

    def load(self) -> None:
        """Load the snapshot, then replay the log from where the snapshot ends."""
        self.loading = True
        for leftover in (self._rewrite_path("dbfilename"), self._rewrite_path("appendfilename"),
                         *_orphaned_snapshots(self.path("dbfilename"))):
            if os.path.exists(leftover):
                log.warning("Removing %s, left by a snapshot or log rewrite that did not "
                            "finish", leftover)
                os.remove(leftover)
        try:
            origin = self._load_snapshot()
            if self.config["appendonly"]:
                self._load_log(origin)
        finally:
            self.loading = False
        self.dirty_at_save = self.database.dirty

    def _load_snapshot(self) -> snapshot.Origin | None:
        path = self.path("dbfilename")
        if not os.path.exists(path):
            return None
        began = time.monotonic()
        try:
            origin = snapshot.read(path, self.database.dbs)
            if origin.sections:
                self.database.lua.functions.load_sections(origin.sections)
        except snapshot.SnapshotError as e:
            raise StartupError(str(e)) from None
        except AlchemyError as e:  # library code the snapshot kept does not load
            raise StartupError(f"{path}: {e.message}") from None
        self.last_save = origin.created_ms // 1000
        self.base_snapshot_size = os.path.getsize(path)
        keys = sum(len(db) for db in self.database.dbs)
        log.info("Snapshot loaded: %d keys in %.3f seconds", keys, time.monotonic() - began)
        return origin

    def _load_log(self, origin: snapshot.Origin | None) -> None:
        path = self.path("appendfilename")
        _wait_for_writer(path)
        header = logfile.read_header(path) if os.path.exists(path) else None
        if header is None:
            if os.path.exists(path) and os.path.getsize(path):
                self._check_torn_header(path)
            self._new_log(path, origin)
            return
        _, _, self.log_id, based_on = header
        if origin is not None and origin.log_id == self.log_id:
            start = origin.log_offset
        elif based_on == (origin.snapshot_id if origin else b""):
            start = 0
        else:
            raise StartupError(
                f"{path} does not continue {self.path('dbfilename')}: the log starts from "
                f"snapshot '{based_on.decode()}', the snapshot is "
                f"'{origin.snapshot_id.decode() if origin else 'absent'}'; move one away")
        self._replay(path, start)

    @staticmethod
    def _check_torn_header(path: str) -> None:
        """A log that is only a torn header is started again; any other file is kept."""
        start = logfile.header_record(b"", b"")[:20]  # *5 $11 ALCHEMY-LOG
        with open(path, "rb") as f:
            head = f.read(len(start))
        reader = logfile.LogReader(path)
        for _ in reader:
            break
        problem = reader.problem
        if problem is None or not problem.torn or not start.startswith(head):
            raise StartupError(f"{path} is not an Alchemy log: move it away")
        log.warning("%s holds only a torn header: starting it again", path)

    def _new_log(self, path: str, origin: snapshot.Origin | None) -> None:
        self.log_id = os.urandom(8).hex().encode()
        with open(path, "wb") as f:
            f.write(logfile.header_record(self.log_id, origin.snapshot_id if origin else b""))
            f.flush()
            os.fsync(f.fileno())

    def _replay(self, path: str, start: int) -> None:
        """Run the log's commands through the command table, as a client would."""
        database = self.database
        client = database.new_client(kind="replay")
        client.authenticated = True
        began = time.monotonic()
        reader = logfile.LogReader(path, start)
        commands = errors = 0
        for unit in reader:
            for argv in unit.commands:
                if isinstance(database.call(client, argv), AlchemyError):
                    errors += 1
                commands += 1
        database.serve_ready()
        problem = reader.problem
        if problem is not None:
            if not problem.torn:
                raise StartupError(logfile.describe(problem, path) +
                                   "; run alchemy-check-log to inspect or cut it")
            log.warning("%s; cutting it", logfile.describe(problem, path))
            logfile.truncate(path, reader.end)
        log.info("Log replayed: %d commands in %.3f seconds%s", commands,
                 time.monotonic() - began, f" ({errors} answered errors)" if errors else "")

    def start(self, loop) -> None:
        """Fork the log writer (appendonly yes) and start propagating writes to it."""
        self.loop = loop
        if not self.config["appendonly"]:
            return
        path = self.path("appendfilename")
        self.appendlog = AppendLog(path, self.config["appendfsync"], os.path.getsize(path))
        self.appendlog.start(loop)
        self.database.log = self.appendlog
        self.base_size = self.aof_size()

    def stop(self) -> None:
        """Flush and fsync the log, stop the children (blocking: at shutdown)."""
        self._abandon_bgsave()
        self._abandon_rewrite()
        if self.appendlog is not None:
            self.appendlog.close()

    def final_save(self) -> None:
        """The snapshot SHUTDOWN SAVE (and SHUTDOWN or SIGTERM with save points set) writes;
        a background save or log rewrite in progress is abandoned for it."""
        self._abandon_bgsave()
        self._abandon_rewrite()
        self.save()

    def _abandon_bgsave(self) -> None:
        if self.bgsave_pid > 0:
            children.forget(self.bgsave_pid)
            try:
                os.kill(self.bgsave_pid, 9)
                os.waitpid(self.bgsave_pid, 0)
            except OSError:
                pass
        self.bgsave_pid = 0

    def cron(self) -> None:
        """Start a log rewrite that is scheduled or due (appendonly turned on counts), or a
        background save when a save point (`save <seconds> <changes>`) is due."""
        if self.bgsave_pid or self.rewriting:
            return
        if self.rewrite_scheduled or self._rewrite_due() or self._enabling_due():
            self._start_rewrite()
            return
        if self.bgsave_scheduled:
            self.bgsave_scheduled = False
            self._start_bgsave()
            return
        now = time.time()
        if not self.last_bgsave_ok and now - self.last_bgsave_try < BGSAVE_RETRY_SECONDS:
            return
        changes = self.database.dirty - self.dirty_at_save
        for seconds, wanted in self.config["save"]:
            if changes >= wanted and now - self.last_save >= seconds:
                log.info("%d changes in %d seconds. Saving...", wanted, seconds)
                self._start_bgsave()
                return

    def _start_bgsave(self) -> None:
        try:
            self.bgsave()
        except AlchemyError as e:
            log.warning("%s", e.message)

    # -- snapshots ------------------------------------------------------------------------

    def _origin(self) -> snapshot.Origin:
        if self.appendlog is not None:
            offset = self.appendlog.file_end
            self.appendlog.reset_database()  # the next record must SELECT for itself
        else:
            offset = self._stopped_log_end()
        scripts = self.database.scripts  # FUNCTION libraries and INTERPRET code, if any
        sections = scripts.functions.sections() if scripts is not None else {}
        return snapshot.Origin(os.urandom(8).hex().encode(), self.log_id, offset,
                               int(time.time() * 1000), sections)

    def save(self) -> None:
        """SAVE: write the snapshot here and now."""
        if self.bgsave_pid:
            raise AlchemyError("ERR Background save already in progress")
        try:
            snapshot.write(self.database.dbs, self.path("dbfilename"), self._origin())
        except OSError as e:
            log.warning("Snapshot failed: %s", e)
            raise AlchemyError("ERR") from None
        self._saved(True)

    def bgsave(self, schedule: bool = False) -> str:
        """BGSAVE: a forked child writes the snapshot; the loop notices its exit. The
        status reply: started, or scheduled (SCHEDULE, while a log rewrite runs)."""
        children.poll()
        if self.bgsave_pid:
            raise AlchemyError("ERR Background save already in progress")
        if self.rewriting or self.rewrite_pid:
            if not schedule:
                raise AlchemyError(
                    "ERR Another child process is active (AOF?): can't BGSAVE right now. "
                    "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
            self.bgsave_scheduled = True
            return "Background saving scheduled"
        self.last_bgsave_try = time.time()
        if self.database.in_command() and self.loop is not None:
            # Inside EXEC (or a script) the unit is logged when it ends: fork after that, so
            # the snapshot and its log offset agree.
            self.bgsave_pid = -1
            self.loop.call_soon(self._fork_snapshot)
            return "Background saving started"
        error = self._fork_snapshot()
        if error is not None:
            raise AlchemyError(error)
        return "Background saving started"

    def _fork_snapshot(self) -> str | None:
        """Fork the snapshot writer; the error text if that failed."""
        dbs, path, origin = self.database.dbs, self.path("dbfilename"), self._origin()
        delay = self.config["rdb-key-save-delay"] / 1e6
        try:
            pid, life = fork_child("snapshot writer", [],
                                   lambda: snapshot.write(dbs, path, origin, True, delay))
        except (OSError, RuntimeError) as e:
            self.last_bgsave_ok = False
            self.bgsave_pid = 0
            log.warning("Cannot fork the snapshot writer: %s", e)
            return f"ERR Background save failed: {e}"
        self.bgsave_pid = pid
        self.bgsave_started = time.monotonic()
        self._dirty_at_fork = self.database.dirty
        children.watch(pid, life, self.loop, self._bgsave_done)
        return None

    def _bgsave_done(self, status: int) -> None:
        ok = status == 0
        self.bgsave_pid = 0
        self.last_bgsave_ok = ok
        self.last_bgsave_seconds = int(time.monotonic() - self.bgsave_started)
        if ok:
            log.info("Background saving terminated with success")
            self._saved(False, self._dirty_at_fork)
        else:
            log.warning("Background saving failed: child status %d", status)

    def _saved(self, foreground: bool, dirty: int | None = None) -> None:
        self.last_save = int(time.time())
        self.dirty_at_save = self.database.dirty if dirty is None else dirty
        self.saves += 1
        if foreground:
            log.info("DB saved on disk")

    def _stopped_log_end(self) -> int:
        """With the log off: the end of the log it left (0 if none), where a snapshot taken
        now says the log goes on, so that a log turned on again replays none of it."""
        path = self.path("appendfilename")
        return os.path.getsize(path) if self.log_id and os.path.exists(path) else 0

    # -- appendonly at run time -----------------------------------------------------------

    def config_changed(self, before: dict) -> None:
        """CONFIG SET changed settings (before: the values it replaced): apply appendonly
        and appendfsync now. An error means appendonly could not be turned on."""
        config, appendlog = self.config, self.appendlog
        if appendlog is not None and config["appendfsync"] != before["appendfsync"]:
            appendlog.change_policy(config["appendfsync"])
        if config["appendonly"] == before["appendonly"]:
            return
        if config["appendonly"]:
            self._turn_on()
        else:
            self._turn_off()

    def _turn_on(self) -> None:
        """Start the rewrite that writes the new log's base (Redis's startAppendOnly)."""
        if self.loop is None:
            raise AlchemyError("ERR CONFIG SET failed (possibly related to argument "
                               "'appendonly') - the log runs only in a serving process")
        if self.rewrite_pid > 0:
            log.info("AOF was enabled but there is already an AOF rewriting in background. "
                     "Stopping background AOF and starting a rewrite now.")
            self._abandon_rewrite()
        if self.bgsave_pid or self.database.in_command():
            log.info("AOF was enabled while a background save or a transaction runs: "
                     "the rewrite is scheduled")
            self.rewrite_scheduled = True
            return
        if self._start_rewrite() is not None:
            raise AlchemyError("ERR CONFIG SET failed (possibly related to argument "
                               "'appendonly') - Unable to turn on AOF. Check server logs.")

    def _turn_off(self) -> None:
        """Stop a rewrite, hand the writer the rest, let it fsync and exit (blocking, as
        Redis's stopAppendOnly fsyncs)."""
        self._abandon_rewrite()
        self.rewrite_scheduled = False
        appendlog = self.appendlog
        if appendlog is not None:
            appendlog.close()
            appendlog.release_all()  # what close could not write: the log is off now
            self.appendlog = self.database.log = None
        log.info("Append only file turned off")

    def _enabling_due(self) -> bool:
        """appendonly is on but has no log: its rewrite failed; try again after a pause."""
        return (self.config["appendonly"] and self.appendlog is None and self.loop is not None
                and time.monotonic() - self.rewrite_started >= BGSAVE_RETRY_SECONDS)

    def _open_waiting_log(self, end: int) -> None:
        """Turning appendonly on, at the fork of the base's rewrite: from now on writes wait
        in memory (and under `always` their replies) until the new log is in place."""
        path, policy = self.path("appendfilename"), self.config["appendfsync"]
        self.appendlog = self.database.log = AppendLog(path, policy, end, self.loop)
        self.awaiting_base = True

    def _drop_waiting_log(self) -> None:
        """The base's rewrite failed or was stopped: the waiting writes are in memory and
        will be in the next base; release whoever waits on them."""
        if self.awaiting_base:
            self.awaiting_base = False
            self.appendlog.release_all()
            self.appendlog = self.database.log = None

    # -- log rewrites ---------------------------------------------------------------------

    def _rewrite_path(self, name: str) -> str:
        return self.path(name) + ".rewrite"

    def aof_size(self) -> int:
        """The pair's size: the snapshot the log continues, and the log."""
        appendlog = self.appendlog
        return self.base_snapshot_size + (appendlog.file_end if appendlog is not None else 0)

    def _rewrite_due(self) -> bool:
        """auto-aof-rewrite-percentage and -min-size, as Redis reads them."""
        percentage = self.config["auto-aof-rewrite-percentage"]
        if self.appendlog is None or not percentage or not self.last_rewrite_ok and (
                time.monotonic() - self.rewrite_started < BGSAVE_RETRY_SECONDS):
            return False
        size = self.aof_size()
        if size < self.config["auto-aof-rewrite-min-size"]:
            return False
        base = self.base_size or 1
        if (size - base) * 100 // base < percentage:
            return False
        log.info("Starting automatic rewriting of AOF on %d%% growth",
                 (size - base) * 100 // base)
        return True

    def bgrewriteaof(self) -> str:
        """BGREWRITEAOF: the status reply (started, or scheduled behind a background save
        or the running transaction or script)."""
        children.poll()
        if self.rewriting or self.rewrite_pid:
            raise AlchemyError(
                "ERR Background append only file rewriting already in progress")
        if self.bgsave_pid or self.database.in_command():
            self.rewrite_scheduled = True
            return "Background append only file rewriting scheduled"
        error = self._start_rewrite()
        if error is not None:
            raise AlchemyError("ERR Can't execute an AOF background rewriting. "
                               "Please check the server logs for more information.")
        return "Background append only file rewriting started"

    def _start_rewrite(self) -> str | None:
        """Fork the child that writes the rewrite's snapshot (step 1); the error if not."""
        self.rewrite_scheduled = False
        self.rewrite_started = time.monotonic()
        turning_on = self.config["appendonly"] and self.appendlog is None
        dbs, temporary, origin = self.database.dbs, self._rewrite_path("dbfilename"), \
            self._origin()
        delay = self.config["rdb-key-save-delay"] / 1e6
        try:
            pid, life = fork_child("log rewriter", [],
                                   lambda: snapshot.write_file(dbs, temporary, origin, True,
                                                                delay))
        except (OSError, RuntimeError) as e:
            log.warning("Cannot fork the log rewriter: %s", e)
            self.last_rewrite_ok = False
            return str(e)
        if turning_on:
            self._open_waiting_log(origin.log_offset)
        self.rewrite_pid, self.rewrite_origin, self.rewriting = pid, origin, True
        children.watch(pid, life, self.loop, self._rewrite_child_done)
        return None

    def _rewrite_child_done(self, status: int) -> None:
        self.rewrite_pid = 0
        if status != 0:
            self._rewrite_failed(f"child status {status}")
        elif self.appendlog is None:
            self._switch_log()
        else:
            self.appendlog.pause(self._switch_log)  # step 2

    def _switch_log(self) -> None:
        """Steps 3 to 5, once the log writer has stopped: O(bytes logged during the rewrite)
        copied, two fsyncs and two renames, in the loop."""
        appendlog, origin = self.appendlog, self.rewrite_origin
        path, temporary = self.path("appendfilename"), self._rewrite_path("appendfilename")
        log_id = os.urandom(8).hex().encode()
        try:
            with open(temporary, "wb") as out:
                out.write(logfile.header_record(log_id, origin.snapshot_id))
                if appendlog is not None:
                    _copy_range(path, origin.log_offset, appendlog.file_confirmed, out)
                out.flush()
                os.fsync(out.fileno())
                size = out.tell()
            base = self._rewrite_path("dbfilename")
            base_size = os.path.getsize(base)
            snapshot.place(base, self.path("dbfilename"))
            snapshot.place(temporary, path)
        except OSError as e:
            if appendlog is not None and not self.awaiting_base:
                appendlog.resume()
            self._rewrite_failed(str(e))
            return
        self.log_id = log_id
        self.base_snapshot_size = base_size
        self.awaiting_base = False
        if appendlog is not None:
            appendlog.resume(size)
        self.rewriting = False
        self.rewrites += 1
        self.last_rewrite_ok = True
        self.last_rewrite_seconds = int(time.monotonic() - self.rewrite_started)
        self.base_size = self.aof_size()
        log.info("Background AOF rewrite finished successfully")

    def _rewrite_failed(self, why: str) -> None:
        log.warning("Background AOF rewrite failed: %s", why)
        self._remove_rewrite_files()
        self.rewriting = False
        self.last_rewrite_ok = False
        self._drop_waiting_log()

    def _remove_rewrite_files(self) -> None:
        for name in ("dbfilename", "appendfilename"):
            try:
                os.remove(self._rewrite_path(name))
            except FileNotFoundError:
                pass

    def _abandon_rewrite(self) -> None:
        if self.rewrite_pid > 0:
            children.forget(self.rewrite_pid)
            try:
                os.kill(self.rewrite_pid, 9)
                os.waitpid(self.rewrite_pid, 0)
            except OSError:
                pass
        if self.rewriting:
            self._remove_rewrite_files()
        self.rewrite_pid = 0
        self.rewriting = False
        self._drop_waiting_log()

    # -- INFO -----------------------------------------------------------------------------

    def info(self) -> list:
        children.poll()
        appendlog = self.appendlog
        now = time.monotonic()
        return [
            f"loading:{int(self.loading)}",
            "async_loading:0",
            f"rdb_changes_since_last_save:{self.database.dirty - self.dirty_at_save}",
            f"rdb_bgsave_in_progress:{int(bool(self.bgsave_pid))}",
            f"rdb_last_save_time:{self.last_save}",
            f"rdb_last_bgsave_status:{'ok' if self.last_bgsave_ok else 'err'}",
            f"rdb_last_bgsave_time_sec:{self.last_bgsave_seconds}",
            "rdb_current_bgsave_time_sec:"
            f"{int(now - self.bgsave_started) if self.bgsave_pid else -1}",
            f"rdb_saves:{self.saves}",
            f"aof_enabled:{int(self.config['appendonly'])}",
            f"aof_rewrite_in_progress:{int(self.rewriting)}",
            f"aof_rewrite_scheduled:{int(self.rewrite_scheduled)}",
            f"aof_last_rewrite_time_sec:{self.last_rewrite_seconds}",
            "aof_current_rewrite_time_sec:"
            f"{int(now - self.rewrite_started) if self.rewriting else -1}",
            f"aof_last_bgrewrite_status:{'ok' if self.last_rewrite_ok else 'err'}",
            f"aof_rewrites:{self.rewrites}",
            "aof_last_write_status:"
            f"{'err' if appendlog is not None and appendlog.refusal else 'ok'}",
            "module_fork_in_progress:0",
            f"forks:{FORKS['count']}",
            f"fork_max_threads:{FORKS['max_threads']}",
        ] + ([
            f"aof_current_size:{self.aof_size()}",
            f"aof_base_size:{self.base_size}",
            f"aof_confirmed_size:{appendlog.file_confirmed}",
            f"aof_writer_pid:{appendlog.pid}",
        ] if appendlog is not None and not self.awaiting_base else [])


def _copy_range(path: str, start: int, end: int, out) -> None:
    """Append bytes [start, end) of the file at path to out."""
    if end <= start:
        return  # nothing to copy, and a log being turned on may have no file yet
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start
        while left > 0:
            chunk = f.read(min(left, logfile.CHUNK))
            if not chunk:
                raise OSError(f"{path} ends before byte {end}")
            out.write(chunk)
            left -= len(chunk)


def _orphaned_snapshots(path: str) -> list:
    """Temporary snapshots (snapshot.write) whose writer is gone: a killed server's."""
    orphans = []
    for name in glob.glob(glob.escape(path) + ".tmp-*"):
        try:
            os.kill(int(name.rsplit("-", 1)[1]), 0)
        except ValueError:  # not one of ours
            continue
        except ProcessLookupError:
            orphans.append(name)
        except PermissionError:  # alive, someone else's
            pass
    return orphans


def _wait_for_writer(path: str) -> None:
    """Return once no process writes the log at path (see the module's last paragraph)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        deadline = time.monotonic() + WRITER_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StartupError(f"{path} is still being written by another process "
                                       "(another server on this directory?)") from None
                time.sleep(0.01)
    finally:
        os.close(fd)  # and with it the shared lock

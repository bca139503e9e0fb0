"""Forking children safely: the one way the server makes a child process.

A forked child holds only the forking thread; a lock another thread held stays locked
forever in it. So the server process has no threads, and every fork checks that first
(Python's count and the kernel's, which also sees threads started by C libraries). The
child gets default signal handling and only the descriptors it needs, freezes the garbage
collector's view of the inherited objects (gc.freeze, Python's documented remedy for
copy-on-write after fork), then runs its job and leaves with os._exit: it never returns
into the parent's event loop. A child dies with the server unless it must outlive it (the
log writer, which drains what the server handed over): a snapshot writer of a server
killed with -9 would otherwise finish later and rename its file over the snapshot a
restarted server wrote since.
"""

import ctypes
import gc
import logging
import os
import signal
import sys
import threading
import traceback
from typing import Callable

log = logging.getLogger("alchemy")

# Process-wide facts for INFO: how many forks, and the most threads seen at one.
FORKS = {"count": 0, "max_threads": 0}
_PR_SET_PDEATHSIG = 1


def thread_count() -> int:
    """Threads in this process, as the kernel counts them (Python's count elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return threading.active_count()


def fork_child(purpose: str, keep_fds: list, job: Callable[[], None],
               outlive_server: bool = False) -> tuple[int, int]:
    """Fork a child that runs job() and exits (status 0, or 1 if job raised). Returns its
    pid and the read end of its life pipe, which reaches end of file when it exits."""
    threads = max(threading.active_count(), thread_count())
    FORKS["max_threads"] = max(FORKS["max_threads"], threads)
    if threads != 1:
        raise RuntimeError(f"refusing to fork the {purpose}: {threads} threads are running")
    life, life_end = os.pipe()
    server = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(life)
        os.close(life_end)
        raise
    if pid == 0:
        # The child's collections must not walk the parent's objects: each one they visit
        # gets its header written, which copies its page (bench/cow.py: about a fifth of the
        # copied memory). Reference counts of what the job reads still copy theirs.
        gc.freeze()
        status = 1
        try:
            _become_child([*keep_fds, life_end])
            if not outlive_server:
                _die_with(server)
            job()
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stderr.flush()
            finally:
                os._exit(status)
    os.close(life_end)
    FORKS["count"] += 1
    log.info("Forked the %s, pid %d (threads in the server process: %d)", purpose, pid,
             threads)
    return pid, life


def _become_child(keep_fds: list) -> None:
    # The parent's loop wakes on signals through a descriptor this child shares: detach.
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when children stop
    low = 3
    for fd in sorted({*keep_fds} - {0, 1, 2}):
        if low < fd:  # closerange(n, n) would close everything (close_range(n, n - 1))
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, max(os.sysconf("SC_OPEN_MAX"), low + 1))


def _die_with(server: int) -> None:
    """Be killed when the server exits (Linux), or exit now if it already has."""
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except AttributeError:  # no prctl on this system: the server's own exit paths stop it
        pass
    if os.getppid() != server:
        os._exit(1)

"""Noticing that a forked child exited, without threads and without SIGCHLD.

uvloop keeps SIGCHLD for itself, and asyncio's child watchers may start threads. So every
child holds the write end of a "life pipe" (fork.py): when the child exits, the kernel
closes it and the loop sees end of file on the read end (loop.add_reader), reaps the child
and calls back. Without a loop (the in-process API), `poll` reaps whoever has exited.
"""

import os
from typing import Callable

_WATCHED: dict[int, tuple] = {}  # pid -> (life pipe fd, loop or None, on_exit)


def watch(pid: int, life: int, loop, on_exit: Callable[[int], None]) -> None:
    """Call on_exit(wait status) once child pid exits."""
    _WATCHED[pid] = (life, loop, on_exit)
    if loop is not None:
        loop.add_reader(life, _ended, pid)


def _ended(pid: int) -> None:
    _collect(pid, 0)


def poll() -> None:
    """Reap the watched children that have exited (non-blocking)."""
    for pid in list(_WATCHED):
        _collect(pid, os.WNOHANG)


def forget(pid: int) -> None:
    """Stop watching pid (its owner waits for it itself)."""
    entry = _WATCHED.pop(pid, None)
    if entry is not None:
        _close(entry)


def _collect(pid: int, flags: int) -> None:
    try:
        found, status = os.waitpid(pid, flags)
    except ChildProcessError:
        found, status = pid, 0
    if found == 0:
        return
    entry = _WATCHED.pop(pid, None)
    if entry is not None:
        _close(entry)
        entry[2](status)


def _close(entry: tuple) -> None:
    life, loop, _ = entry
    if loop is not None:
        loop.remove_reader(life)
    os.close(life)

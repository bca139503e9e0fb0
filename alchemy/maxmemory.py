"""maxmemory, with Redis's noeviction policy: past the limit, commands that may grow the
dataset are refused with -OOM before they run, as Redis refuses them.

The process's resident size stands for used memory (INFO's used_memory says the same):
Python keeps no per-object account cheap enough to read before every command. Freed
objects do not give their pages back at once either, which is why no policy evicts keys:
eviction judged by the resident size would empty the dataset before the size fell. Every
maxmemory-policy is accepted (OBJECT FREQ reads it) and refuses as noeviction does.
"""

import os
import resource

from alchemy.errors import AlchemyError

OOM = "OOM command not allowed when used memory > 'maxmemory'."
SCRIPT_OOM = ("OOM allow-oom flag is not set on the script, can not run it when used memory "
              "> 'maxmemory'")
# In MULTI, queuing could use memory without bound: every command is refused but these.
_RUN_IN_MULTI = frozenset(("exec", "discard", "quit", "reset"))
_PAGE = os.sysconf("SC_PAGE_SIZE")
_statm: dict[int, int] = {}  # pid -> open /proc/self/statm: a pread is ~1.5 us, an open ~13


def resident_bytes() -> int:
    """The process's resident set size."""
    pid = os.getpid()
    try:
        fd = _statm.get(pid)
        if fd is None:
            fd = _statm[pid] = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        return int(os.pread(fd, 128, 0).split()[1]) * _PAGE
    except OSError:  # no /proc: the peak is the closest figure
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class MemoryLimit:
    """A maxmemory setting other than 0, checked before each command a client sends."""

    def __init__(self, limit: int):
        self.limit = limit
        # Over the limit when the last command checked started: the scripts that command
        # runs read it, so that only their first write is refused (Redis's
        # pre_command_oom_state).
        self.exceeded = False

    def refuses(self, client, cmd, argv: list) -> bool:
        """Is cmd (argv), sent by client, refused with OOM? Never for log replay, nor
        before NOAUTH is decided."""
        if client.kind == "replay" or not client.authenticated:
            return False
        self.exceeded = resident_bytes() > self.limit
        if not self.exceeded:
            return False
        if cmd.named_by(argv).denyoom:  # FUNCTION LOAD, not FUNCTION LIST
            return True
        if client.multi is None:
            return False
        if cmd.name == "exec":
            return any(queued.named_by(args).denyoom for queued, args in client.multi)
        return cmd.name not in _RUN_IN_MULTI


def refuse_script_past_limit(server, exempt: bool) -> None:
    """A script with flags (a shebang, a function) that may write does not start past
    maxmemory unless it has allow-oom (Redis 7); exempt: it has, or may not write."""
    limit = server.memory_limit
    if not exempt and limit is not None and limit.exceeded:
        raise AlchemyError(SCRIPT_OOM)

"""Log rewrites: BGREWRITEAOF and automatic rewrites shrink the log and lose nothing.

A rewrite writes a fresh snapshot in a forked child, then replaces the log by one that
starts from that snapshot and holds the writes that arrived meanwhile (the steps are in
alchemy/persistence/__init__.py). Here clients write throughout, the server is stopped or
killed with SIGKILL before the new files are in place and after, and every acknowledged
write must be there after the restart. The state between the two renames (the new
snapshot continuing the old log) is the one a BGSAVE leaves: tests/test_crash.py kills
the server right after those.
"""

import os
import time

import pytest
import redis

from conftest import ServerProcess
from test_crash import CLIENTS, Writer, check_acknowledged, start_writers
from test_persistence import read_log

KEYS = 50_000
# 20 us per key: a rewrite of KEYS keys takes about a second, long enough to act during it.
SLOW_SAVE = "rdb-key-save-delay 20\n"


def make_server(tmp_path, settings: str = "", fsync: str = "always") -> ServerProcess:
    conf = tmp_path / "alchemy.conf"
    conf.write_text(f'appendonly yes\nsave ""\n{SLOW_SAVE}{settings}')
    return ServerProcess(tmp_path / "data", "--config", str(conf), "--appendfsync", fsync)


def log_size(tmp_path) -> int:
    return len(read_log(tmp_path))


def overwrite(r: redis.Redis, rounds: int, keys: int = 1000) -> None:
    """The same keys written again and again: the log grows, the data does not."""
    for n in range(rounds):
        pipe = r.pipeline(transaction=False)
        for i in range(keys):
            pipe.set(f"key:{i}", f"{n}:{i}")
        pipe.execute()


def tmp_files(tmp_path) -> list[str]:
    return [name for name in os.listdir(tmp_path / "data") if ".tmp-" in name]


def load(r: redis.Redis, keys: int) -> None:
    for start in range(0, keys, 10_000):
        pipe = r.pipeline(transaction=False)
        pipe.mset({f"big:{i}": f"value-{i}" for i in range(start, min(start + 10_000, keys))})
        pipe.execute()


def wait_rewritten(r: redis.Redis, count: int, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while True:
        info = r.info("persistence")
        if info["aof_rewrites"] >= count and not info["aof_rewrite_in_progress"]:
            return info
        assert time.time() < deadline, info
        time.sleep(0.02)


def bgrewriteaof(proc: ServerProcess) -> str:
    """The reply's text (redis-py turns the status into True)."""
    return proc.cli("BGREWRITEAOF").strip()


def stop_writers(writers: list) -> None:
    for w in writers:
        w.stop.set()
    for w in writers:
        w.join(10)


def test_bgrewriteaof_shrinks_the_log_and_keeps_the_data(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        overwrite(r, 10)
        r.select(3)
        r.set("in3", "three")
        r.select(0)
        r.set("ttl", "v", px=500_000)
        before = log_size(tmp_path)
        info = r.info("persistence")
        assert info["aof_rewrites"] == 0 and info["aof_rewrite_in_progress"] == 0
        assert bgrewriteaof(proc) == "Background append only file rewriting started"
        info = wait_rewritten(r, 1)
        assert info["aof_last_bgrewrite_status"] == "ok"
        after = log_size(tmp_path)
        assert after < before // 10
        assert info["aof_base_size"] == info["aof_current_size"]
        assert info["aof_base_size"] == after + os.path.getsize(tmp_path / "data" / "dump.rdb")
        r.set("after", "rewrite")
        assert log_size(tmp_path) > after, "the writer appends to the new log"
        assert not [name for name in os.listdir(tmp_path / "data") if "rewrite" in name]
        proc.stop()
        proc.start()
        r = proc.client()
        assert r.get("key:999") == b"9:999" and r.dbsize() == 1002
        assert r.get("after") == b"rewrite" and 0 < r.pttl("ttl") <= 500_000
        r.select(3)
        assert r.get("in3") == b"three"
    finally:
        proc.stop()


def test_rewrite_errors_and_scheduling_as_redis(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        load(r, KEYS)
        assert bgrewriteaof(proc) == "Background append only file rewriting started"
        with pytest.raises(redis.ResponseError, match="^Background append only file "
                           "rewriting already in progress$"):
            r.execute_command("BGREWRITEAOF")
        with pytest.raises(redis.ResponseError, match=r"^Another child process is active \(AOF\?\): "
                           "can't BGSAVE right now"):
            r.execute_command("BGSAVE")
        assert proc.cli("BGSAVE", "SCHEDULE").strip() == "Background saving scheduled"
        assert r.info("persistence")["aof_rewrite_in_progress"] == 1
        wait_rewritten(r, 1)
        deadline = time.time() + 30
        while r.info("persistence")["rdb_saves"] < 1:  # the scheduled BGSAVE ran after
            assert time.time() < deadline
            time.sleep(0.05)
        assert bgrewriteaof(proc) == "Background append only file rewriting started"
        wait_rewritten(r, 2)
        # Inside MULTI the rewrite waits for EXEC to end: scheduled.
        replies = proc.cli(input=b"MULTI\nSET x 1\nBGREWRITEAOF\nEXEC\n").split("\n")
        assert "Background append only file rewriting scheduled" in replies
        wait_rewritten(r, 3)
        proc.kill9()
        proc.start()
        r = proc.client()
        assert r.dbsize() == KEYS + 1 and r.get(f"big:{KEYS - 1}") == b"value-%d" % (KEYS - 1)
    finally:
        proc.stop()


def test_writes_during_the_rewrite_are_kept(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        load(r, KEYS)
        writers = start_writers(proc)
        time.sleep(0.2)
        before = log_size(tmp_path)
        r.execute_command("BGREWRITEAOF")
        wait_rewritten(r, 1)
        time.sleep(0.3)
        stop_writers(writers)
        assert log_size(tmp_path) < before
        proc.stop()
        proc.start()
        r = proc.client()
        check_acknowledged(r, writers)
        assert r.get(f"big:{KEYS - 1}") == b"value-%d" % (KEYS - 1)
    finally:
        proc.stop()


@pytest.mark.parametrize("moment", ["before the rename", "after the rename"])
def test_kill9_during_rewrite_loses_nothing_acknowledged(tmp_path, moment):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        load(r, KEYS)
        writers = start_writers(proc)
        time.sleep(0.2)
        r.execute_command("BGREWRITEAOF")
        if moment == "before the rename":
            time.sleep(0.1)
            info = r.info("persistence")
            assert info["aof_rewrite_in_progress"] == 1 and info["aof_rewrites"] == 0
        else:
            wait_rewritten(r, 1)
            time.sleep(0.2)
        proc.kill9()
        for w in writers:
            w.join(10)
        proc.start()
        r = proc.client()
        check_acknowledged(r, writers)
        assert r.dbsize() >= KEYS
        assert not [name for name in os.listdir(tmp_path / "data") if "rewrite" in name]
    finally:
        proc.stop()


def test_kill9_at_many_moments_of_repeated_rewrites(tmp_path):
    """Rewrites back to back under writes, killed at a different moment each round."""
    proc = make_server(tmp_path).start()
    try:
        load(proc.client(), KEYS // 4)
        for round, delay in enumerate((0.0, 0.05, 0.15, 0.3, 0.6)):
            r = proc.client()
            writers = [Writer(proc.port, round * CLIENTS + n) for n in range(CLIENTS)]
            for w in writers:
                w.start()
            time.sleep(0.1)
            r.execute_command("BGREWRITEAOF")
            time.sleep(delay)
            proc.kill9()
            for w in writers:
                w.join(10)
            proc.start()
            check_acknowledged(proc.client(), writers)
    finally:
        proc.stop()


def grow_log_to(r: redis.Redis, tmp_path, size: int) -> None:
    while log_size(tmp_path) < size:
        overwrite(r, 1)


def test_automatic_rewrite_when_the_log_doubles(tmp_path):
    minimum = 1 << 20
    proc = make_server(tmp_path, "auto-aof-rewrite-min-size 1mb\n", fsync="everysec").start()
    try:
        r = proc.client()
        assert r.config_get("auto-aof-rewrite-*") == {
            "auto-aof-rewrite-percentage": "100", "auto-aof-rewrite-min-size": str(minimum)}
        grow_log_to(r, tmp_path, minimum * 3 // 4)
        time.sleep(0.5)
        assert r.info("persistence")["aof_rewrites"] == 0, "under the minimum size"
        deadline = time.time() + 20
        while r.info("persistence")["aof_rewrites"] == 0:
            assert time.time() < deadline
            overwrite(r, 1)
        info = wait_rewritten(r, 1)
        assert info["aof_base_size"] < minimum // 2
        # The pair has not doubled past the minimum size again: no second rewrite.
        grow_log_to(r, tmp_path, minimum * 3 // 4)
        time.sleep(0.5)
        assert r.info("persistence")["aof_rewrites"] == 1
        r.config_set("auto-aof-rewrite-percentage", 0)  # 0: automatic rewrites off
        grow_log_to(r, tmp_path, minimum * 3 // 2)
        time.sleep(0.5)
        assert r.info("persistence")["aof_rewrites"] == 1
        r.config_set("auto-aof-rewrite-percentage", 100)
        wait_rewritten(r, 2)
        assert log_size(tmp_path) < minimum // 2
        r.set("key:999", "last")
        time.sleep(1.5)  # everysec: what was acknowledged more than a second ago is safe
        proc.kill9()
        proc.start()
        r = proc.client()
        assert r.get("key:999") == b"last" and r.dbsize() == 1000
    finally:
        proc.stop()


def test_bgrewriteaof_without_appendonly_writes_a_pair_that_loads(tmp_path):
    conf = tmp_path / "alchemy.conf"
    conf.write_text('appendonly no\nsave ""\n')
    proc = ServerProcess(tmp_path / "data", "--config", str(conf)).start()
    try:
        r = proc.client()
        overwrite(r, 2)
        assert bgrewriteaof(proc) == "Background append only file rewriting started"
        wait_rewritten(r, 1)
        proc.stop()
        conf.write_text('appendonly yes\nsave ""\n')
        proc.start()
        r = proc.client()
        assert r.get("key:5") == b"1:5" and r.dbsize() == 1000
    finally:
        proc.stop()


def test_a_bgsave_child_dies_with_a_killed_server(tmp_path):
    """Its snapshot, finished later, would be renamed over what a restarted server wrote:
    the child goes with the server; the log writer, which must drain, does not."""
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        load(r, KEYS)
        r.bgsave()
        assert r.info("persistence")["rdb_bgsave_in_progress"] == 1
        children = [int(pid) for pid in open(f"/proc/{proc.proc.pid}/task/"
                                             f"{proc.proc.pid}/children").read().split()]
        assert len(children) == 2  # the log writer and the snapshot writer
        # Kill only once the child has begun writing, so there is a partial file to clean up.
        deadline = time.monotonic() + 10
        while not tmp_files(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill9()
        time.sleep(2)  # the snapshot takes a second (SLOW_SAVE): it would be in place
        # The log writer exits once it has drained its pipe: on a loaded machine, later.
        deadline = time.monotonic() + 10
        while any(os.path.exists(f"/proc/{pid}") for pid in children) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(os.path.exists(f"/proc/{pid}") for pid in children)
        leftovers = os.listdir(tmp_path / "data")
        assert "dump.rdb" not in leftovers
        assert tmp_files(tmp_path)
        proc.start()
        assert proc.client().dbsize() == KEYS
        assert not tmp_files(tmp_path)
    finally:
        proc.stop()

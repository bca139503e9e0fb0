"""`CONFIG SET appendonly` and `appendfsync` at run time, through redis-py.

Turning the log on writes the current state as its base (a rewrite) before any new write
is acknowledged as logged; turning it off flushes the writer and stops it, and the log
grows no more. After either, a restart (or `kill -9` and a restart) with appendonly yes
has every acknowledged write exactly once.
"""

import time

import pytest
import redis

from alchemy.errors import AlchemyError
from conftest import ServerProcess
from test_crash import check_acknowledged, start_writers
from test_rewrite import load, log_size, stop_writers


def make_server(tmp_path, appendonly: bool, fsync: str = "always") -> ServerProcess:
    write_conf(tmp_path, appendonly)
    return ServerProcess(tmp_path / "data", "--config", str(tmp_path / "alchemy.conf"),
                         "--appendfsync", fsync)


def write_conf(tmp_path, appendonly: bool) -> None:
    """The file the next start reads (no save points: restarts read the log)."""
    (tmp_path / "alchemy.conf").write_text(
        f"appendonly {'yes' if appendonly else 'no'}\nsave \"\"\n")


def wait_logging(r: redis.Redis, timeout: float = 60) -> dict:
    """Wait until the log turned on has its base and a writer."""
    deadline = time.time() + timeout
    while True:
        info = r.info("persistence")
        if not info["aof_rewrite_in_progress"] and info.get("aof_writer_pid"):
            return info
        assert time.time() < deadline, info
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_turned_on_the_first_acknowledged_write_survives_kill9(tmp_path):
    proc = make_server(tmp_path, appendonly=False).start()
    try:
        r = proc.client()
        load(r, 200_000)  # the base takes a while to write
        assert r.info("persistence")["aof_enabled"] == 0
        assert r.config_set("appendonly", "yes")
        info = r.info("persistence")
        assert info["aof_enabled"] == 1 and info["aof_rewrite_in_progress"] == 1
        r.set("after", "1")  # under always, answered once the base and this write are safe
        proc.kill9()
        write_conf(tmp_path, appendonly=True)
        proc.start()
        r = proc.client()
        assert r.dbsize() == 200_001
        assert r.get("after") == b"1" and r.get("big:199999") == b"value-199999"
    finally:
        proc.stop()


def test_turned_on_under_load_loses_nothing_acknowledged(tmp_path):
    proc = make_server(tmp_path, appendonly=False).start()
    try:
        r = proc.client()
        load(r, 100_000)
        writers = start_writers(proc)
        time.sleep(0.2)
        assert r.config_set("appendonly", "yes")
        info = wait_logging(r)
        assert info["aof_rewrites"] == 1 and info["aof_last_bgrewrite_status"] == "ok"
        time.sleep(0.3)
        proc.kill9()
        stop_writers(writers)
        write_conf(tmp_path, appendonly=True)
        proc.start()
        r = proc.client()
        check_acknowledged(r, writers)
        assert r.get("big:99999") == b"value-99999"
    finally:
        proc.stop()


def test_turned_off_the_log_stops_and_on_again_doubles_nothing(tmp_path):
    proc = make_server(tmp_path, appendonly=True).start()
    try:
        r = proc.client()
        r.incr("n")
        writer = r.info("persistence")["aof_writer_pid"]
        assert r.config_set("appendonly", "no")
        info = r.info("persistence")
        assert info["aof_enabled"] == 0 and "aof_writer_pid" not in info
        assert not pid_alive(writer)
        size = log_size(tmp_path)
        for _ in range(10):
            r.incr("n")
        assert log_size(tmp_path) == size
        assert r.config_get("appendonly") == {"appendonly": "no"}
        assert r.config_set("appendonly", "yes")
        wait_logging(r)
        r.incr("n")
        r = restart_with_log(proc, tmp_path)
        assert r.get("n") == b"12"
    finally:
        proc.stop()


def test_a_snapshot_taken_while_off_is_not_replayed_twice(tmp_path):
    proc = make_server(tmp_path, appendonly=True).start()
    try:
        r = proc.client()
        for _ in range(5):
            r.incr("n")
        assert r.config_set("appendonly", "no")
        r.incr("n")
        r.save()  # continues the log the server left: nothing of it is replayed again
        r = restart_with_log(proc, tmp_path)
        assert r.get("n") == b"6"
        r.incr("n")
        r = restart_with_log(proc, tmp_path)
        assert r.get("n") == b"7"
    finally:
        proc.stop()


def restart_with_log(proc: ServerProcess, tmp_path) -> redis.Redis:
    proc.stop()
    write_conf(tmp_path, appendonly=True)
    proc.start()
    return proc.client()


def test_turned_on_during_bgsave_is_scheduled(tmp_path):
    proc = make_server(tmp_path, appendonly=False, fsync="everysec").start()
    try:
        r = proc.client()
        load(r, 300_000)
        assert r.bgsave()
        assert r.config_set("appendonly", "yes")
        info = r.info("persistence")
        if info["rdb_bgsave_in_progress"]:  # not already finished
            assert info["aof_rewrite_scheduled"] == 1 and info["aof_enabled"] == 1
        wait_logging(r)
        r.set("after", "x")
        r = restart_with_log(proc, tmp_path)
        assert r.dbsize() == 300_001 and r.get("after") == b"x"
    finally:
        proc.stop()


def test_appendonly_and_appendfsync_in_one_config_set(tmp_path):
    proc = make_server(tmp_path, appendonly=False, fsync="no").start()
    try:
        r = proc.client()
        r.set("before", "1")
        assert r.config_set("appendfsync", "always")  # no log yet: only the setting changes
        assert r.execute_command("CONFIG", "SET", "appendonly", "yes", "appendfsync", "everysec")
        assert r.config_get("appendfsync") == {"appendfsync": "everysec"}
        wait_logging(r)
        r.set("after", "2")
        proc.kill9()  # the writer drains the pipe: a server crash loses nothing answered
        write_conf(tmp_path, appendonly=True)
        proc.start()
        r = proc.client()
        assert r.mget("before", "after") == [b"1", b"2"]
    finally:
        proc.stop()


def test_in_process_database_refuses_the_log(db):
    with pytest.raises(AlchemyError, match="serving process"):
        db.execute("CONFIG", "SET", "appendonly", "yes")
    assert db.execute("CONFIG", "GET", "appendonly") == {b"appendonly": b"no"}

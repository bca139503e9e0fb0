"""Crashes: `kill -9` of the server or of its log writer loses nothing acknowledged.

Under `appendfsync always` a reply leaves only after the log writer fsynced the write, so
every write a client saw answered must be there after a restart. Writers here are threads
of the test process, each with its own connection and its own keys.
"""

import os
import signal
import threading
import time

import redis

from conftest import ServerProcess

CLIENTS = 6


def make_server(tmp_path) -> ServerProcess:
    conf = tmp_path / "alchemy.conf"
    conf.write_text("appendonly yes\n")
    return ServerProcess(tmp_path / "data", "--config", str(conf), "--appendfsync", "always")


class Writer(threading.Thread):
    """Writes k:<n>:<i> = i and INCRs c:<n> until stopped or the server goes away; keeps
    what was acknowledged."""

    def __init__(self, port: int, n: int):
        super().__init__(daemon=True)
        self.client = redis.Redis(port=port, socket_timeout=10)
        self.n = n
        self.acked_sets = 0  # k:n:0 .. k:n:acked_sets-1 were answered OK
        self.acked_incrs = 0
        self.attempted_incrs = 0
        self.errors: list = []
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        try:
            while not self.stop.is_set():
                self.client.set(f"k:{self.n}:{i}", i)
                self.acked_sets = i + 1
                self.attempted_incrs += 1
                self.client.incr(f"c:{self.n}")
                self.acked_incrs += 1
                i += 1
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        except redis.ResponseError as e:
            self.errors.append(e)


def start_writers(proc: ServerProcess) -> list:
    writers = [Writer(proc.port, n) for n in range(CLIENTS)]
    for writer in writers:
        writer.start()
    return writers


def check_acknowledged(r: redis.Redis, writers: list) -> None:
    for w in writers:
        assert not w.errors
        assert w.acked_sets > 0
        present = r.mget([f"k:{w.n}:{i}" for i in range(w.acked_sets)])
        assert present == [b"%d" % i for i in range(w.acked_sets)]
        count = int(r.get(f"c:{w.n}") or 0)
        assert w.acked_incrs <= count <= w.attempted_incrs


def test_kill9_under_load_loses_nothing_acknowledged(tmp_path):
    proc = make_server(tmp_path).start()
    log_writer = writer_pid(proc.client())
    writers = start_writers(proc)
    time.sleep(1.0)
    # A stalled log writer (a slow disk) stops acknowledgements, not the server; then both
    # die: what sat in the pipe between them is lost, so it must not have been answered.
    os.kill(log_writer, signal.SIGSTOP)
    time.sleep(0.5)
    assert proc.client().get("k:0:0") == b"0", "reads go on"
    os.kill(log_writer, signal.SIGKILL)
    proc.kill9()
    for w in writers:
        w.join(10)
    proc.start()
    try:
        check_acknowledged(proc.client(), writers)
    finally:
        proc.stop()


def writer_pid(r: redis.Redis) -> int:
    return r.info("persistence")["aof_writer_pid"]


def test_log_writer_killed_is_replaced_and_nothing_is_lost(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        writers = start_writers(proc)
        time.sleep(0.5)
        first = writer_pid(r)
        os.kill(first, signal.SIGKILL)
        deadline = time.time() + 10
        while writer_pid(r) in (first, 0):
            assert time.time() < deadline
            time.sleep(0.02)
        done = [w.acked_sets for w in writers]
        time.sleep(0.5)
        assert all(w.acked_sets > before for w, before in zip(writers, done)), \
            "writes go on with the new log writer"
        assert r.info("persistence")["fork_max_threads"] == 1
        proc.kill9()
        for w in writers:
            w.join(10)
        proc.start()
        check_acknowledged(proc.client(), writers)
    finally:
        proc.stop()


def test_bgsave_while_clients_write(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        writers = start_writers(proc)
        for _ in range(3):
            time.sleep(0.3)
            assert r.bgsave()
            deadline = time.time() + 20
            while r.info("persistence")["rdb_bgsave_in_progress"]:
                assert time.time() < deadline
                time.sleep(0.02)
            assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
        time.sleep(0.3)
        proc.kill9()
        for w in writers:
            w.join(10)
        assert os.path.exists(tmp_path / "data" / "dump.rdb")
        proc.start()
        check_acknowledged(proc.client(), writers)
    finally:
        proc.stop()


def test_writes_are_refused_while_no_log_writer_runs(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        r.set("before", 1)
        # Three writers dying within a second of starting: the server stops retrying at
        # once, refuses writes (reads go on), and tries again a second later.
        for _ in range(3):
            pid = writer_pid(r)
            os.kill(pid, signal.SIGKILL)
            deadline = time.time() + 5
            while writer_pid(r) == pid:
                assert time.time() < deadline
                time.sleep(0.005)
        assert r.info("persistence")["aof_last_write_status"] == "err"
        try:
            r.set("during", 1)
            refused = None
        except redis.ResponseError as e:
            refused = str(e)
        assert refused is not None and "Errors writing to the AOF file" in refused
        pipe = r.pipeline(transaction=True)
        pipe.set("during", 1)
        try:
            pipe.execute()
            refused = None
        except redis.ResponseError as e:
            refused = str(e)
        assert refused is not None and "AOF" in refused
        assert r.get("before") == b"1"
        deadline = time.time() + 10
        while True:
            try:
                r.set("after", 1)
                break
            except redis.ResponseError:
                assert time.time() < deadline
                time.sleep(0.1)
        assert r.info("persistence")["aof_last_write_status"] == "ok"
        proc.kill9()
        proc.start()
        r = proc.client()
        assert r.get("before") == b"1" and r.get("after") == b"1"
        assert r.get("during") is None
    finally:
        proc.stop()

"""Fixtures: a real server on a free port, and real clients talking to it."""

import os
import re
import subprocess
import sys
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ServerProcess:
    """An alchemy-server child process on a port the OS picked."""

    def __init__(self, data_dir, *args: str):
        self.data_dir = str(data_dir)
        self.args = list(args)
        self.proc = None
        self.port = None

    def start(self) -> "ServerProcess":
        cmd = [sys.executable, "-m", "alchemy_server", "--port", "0", "--dir", self.data_dir,
               *self.args]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     cwd=ROOT)
        deadline = time.time() + 30
        seen = []
        while time.time() < deadline:
            line = self.proc.stderr.readline().decode(errors="replace")
            if not line:
                break
            seen.append(line)
            m = re.search(r"Ready to accept connections on .* port (\d+)", line)
            if m:
                self.port = int(m.group(1))
                return self
        self.proc.kill()
        raise RuntimeError("server did not start:\n" + "".join(seen))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def client(self, **kwargs) -> redis.Redis:
        """A redis-py client; RESP2 unless protocol=3 is asked for."""
        kwargs.setdefault("protocol", 2)
        return redis.Redis(port=self.port, **kwargs)

    def cli(self, *args: str, input: bytes | None = None) -> str:
        """Run redis-cli against this server; its stdout as text."""
        result = subprocess.run(["redis-cli", "-p", str(self.port), *args], input=input,
                                capture_output=True, timeout=30)
        return result.stdout.decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("data")).start()
    yield proc
    proc.stop()


@pytest.fixture
def r(server):
    """A RESP2 redis-py client on a flushed server (redis-py 8 speaks RESP3 unless told)."""
    client = server.client(protocol=2)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def r3(server):
    """A RESP3 redis-py client on a flushed server."""
    client = server.client(protocol=3)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def db():
    """The in-process API."""
    import alchemy
    return alchemy.Database()

"""Server CPU per request: Alchemy, redis-server and a bare uvloop server under the same
redis-benchmark load, side by side in one run.

    .venv/bin/python -m bench.cpu [-t set,get] [-n 200000] [-P 1]

Each server's user and system CPU time (from /proc/<pid>/stat) over one redis-benchmark
run (`-c 50`), divided by the requests. The bare server is asyncio with uvloop and one
Protocol that answers every request of a read with +OK, parsing nothing: the floor of any
Python server on this event loop. Without pipelining the client and the server share the
machine's two cores; a server needing more CPU per request than redis-server's is then
what caps its rate, and the difference from the bare server is the request path in Python.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time

from bench.run import REDIS_BENCHMARK, free_port, machine, request, start_alchemy, start_redis

TICKS = os.sysconf("SC_CLK_TCK")


class _Bare(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(b"+OK\r\n" * data.count(b"*"))  # one reply per array header


async def _serve_bare(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Bare, "127.0.0.1", port)
    await server.serve_forever()


def run_bare(port: int) -> None:
    import uvloop
    uvloop.install()
    asyncio.run(_serve_bare(port))


def cpu_seconds(pid: int) -> tuple[float, float]:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime


def measure(pid: int, port: int, test: str, requests: int, pipeline: int) -> tuple:
    """(req/s, user µs per request, system µs per request) of one redis-benchmark run."""
    user, system = cpu_seconds(pid)
    out = subprocess.run([REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(port), "-c", "50",
                          "-n", str(requests), "-P", str(pipeline), "-t", test, "--csv"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(out.splitlines()[-1].split(",")[1].strip('"'))
    user2, system2 = cpu_seconds(pid)
    return rps, (user2 - user) * 1e6 / requests, (system2 - system) * 1e6 / requests


def main() -> None:
    if sys.argv[1:2] == ["--bare"]:
        run_bare(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("-t", "--tests", default="set,get")
    parser.add_argument("-n", "--requests", type=int, default=200_000)
    parser.add_argument("-P", "--pipeline", type=int, default=1)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    with tempfile.TemporaryDirectory() as workdir:
        ours, theirs = start_alchemy(workdir), start_redis(workdir)
        bare_port = free_port()
        bare = subprocess.Popen([sys.executable, "-m", "bench.cpu", "--bare", str(bare_port)])
        try:
            while request(bare_port, b"*1\r\n$4\r\nPING") != b"+OK\r\n":
                time.sleep(0.05)
            servers = [("Alchemy", ours.proc.pid, ours.port),
                       ("redis-server", theirs.proc.pid, theirs.port),
                       ("bare uvloop server", bare.pid, bare_port)]
            print(f"`redis-benchmark -c 50 -n {args.requests} -P {args.pipeline} -t <test>`, "
                  f"server CPU per request\n")
            print("| test | server | req/s | user µs | system µs | total µs |")
            print("| --- | --- | ---: | ---: | ---: | ---: |")
            for test in args.tests.split(","):
                for name, pid, port in servers:
                    rps, user, system = measure(pid, port, test, args.requests, args.pipeline)
                    print(f"| {test.upper()} | {name} | {rps:,.0f} | {user:.1f} | {system:.1f} "
                          f"| {user + system:.1f} |", flush=True)
        finally:
            bare.terminate()
            bare.wait()
            ours.stop()
            theirs.stop()


if __name__ == "__main__":
    main()

"""redis-benchmark against Alchemy and a real redis-server, side by side, printed as ratios.

`python -m bench.run [--suite NAME ...] [-n REQUESTS]` starts both servers on free ports,
runs each suite's redis-benchmark tests against one then the other, test by test (without
pipelining and with -P 16), and prints a Markdown table: test, Alchemy req/s, redis req/s, Alchemy/redis.
A suite is one entry in SUITES; adding one is adding a row there.

`--appendfsync always|everysec|no` (repeatable) measures durability instead: for each policy
both servers start with `appendonly yes` and that policy, the suite runs its SET test only,
and the table puts each ratio beside the one of a pair without persistence, same run.
"""

import argparse
import csv
import datetime
import hashlib
import importlib.util
import io
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_SERVER = "/usr/bin/redis-server"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"


@dataclass
class Suite:
    name: str
    tests: str            # redis-benchmark -t list
    requests: int         # -n
    clients: int = 50     # -c
    pipelines: tuple = (1, 16)  # one run per -P value
    command: str = ""     # a command line to send instead of -t tests ({sha}: the script's)
    script: str = ""      # a Lua body both servers SCRIPT LOAD first

    def arguments(self) -> list[str]:
        """What redis-benchmark is told to send, besides its options."""
        if not self.command:
            return ["-t", self.tests]
        sha = hashlib.sha1(self.script.encode()).hexdigest()
        return ["-r", "100000", *self.command.format(sha=sha).split()]


def needs(test: str) -> list[str]:
    """The commands a redis-benchmark test sends (lrange_100 -> LRANGE, after an LPUSH fill)."""
    name = test.split("_")[0].upper()
    return ["LPUSH", name] if name == "LRANGE" else [name]


SUITES = [
    Suite("strings", "ping,set,get,incr,mset", 200_000),
    Suite("collections", "lpush,lpop,sadd,hset,spop,zadd,lrange_100", 100_000),
    # A script that reads and writes one key, the Lua read+write AlchemyDB quoted.
    Suite("scripting", "evalsha", 100_000, command="EVALSHA {sha} 1 key:__rand_int__",
          script="redis.call('GET', KEYS[1]) return redis.call('SET', KEYS[1], 'x')"),
]


# -- servers ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A server child process, stopped on exit; its output goes to a log file."""

    def __init__(self, name: str, argv: list, log_path: str):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=ROOT)
        self.port = 0

    def read_log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_until(self, found, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if found():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        sys.exit(f"{self.name} did not start:\n{self.read_log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_alchemy(workdir: str, settings: str = 'save ""\nappendonly no\n') -> Process:
    """Alchemy configured like the redis-server beside it: no snapshots, no log (unless
    settings, redis.conf lines, say otherwise)."""
    data = os.path.join(workdir, "alchemy")
    conf = os.path.join(workdir, "alchemy.conf")
    with open(conf, "w") as f:
        f.write(settings)
    server = Process("Alchemy", [sys.executable, "-m", "alchemy_server", "--port", "0",
                                 "--dir", data, "--config", conf],
                     os.path.join(workdir, "alchemy.log"))

    def ready() -> bool:
        m = re.search(r"Ready to accept connections on .* port (\d+)", server.read_log())
        if m:
            server.port = int(m.group(1))
        return bool(m)

    server.wait_until(ready)
    return server


def start_redis(workdir: str, appendfsync: str | None = None) -> Process:
    """redis-server without snapshots; with its append-only file under that policy if
    appendfsync is given."""
    port = free_port()
    log = ["--appendonly", "yes", "--appendfsync", appendfsync] if appendfsync else \
        ["--appendonly", "no"]
    server = Process("redis-server", [
        REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "", *log,
        "--dir", workdir], os.path.join(workdir, "redis.log"))
    server.port = port
    server.wait_until(lambda: request(port, b"PING") == b"+PONG\r\n")
    return server


def request(port: int, line: bytes) -> bytes:
    """One inline command's raw reply, or b"" if the server is not answering yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(line + b"\r\n")
            return sock.recv(65536)
    except OSError:
        return b""


def missing_commands(port: int, names: list[str]) -> list[str]:
    # A command with no arguments answers an arity error when it exists.
    return [name for name in names
            if request(port, name.encode()).startswith(b"-ERR unknown command")]


# -- benchmark runs -----------------------------------------------------------------------

def redis_benchmark(port: int, suite: Suite, test: str, requests: int,
                    pipeline: int) -> dict:
    """req/s per row of redis-benchmark --csv (`ping` gives two rows, PING_INLINE/MBULK)."""
    if suite.script:
        request(port, b'SCRIPT LOAD "%s"' % suite.script.encode())
    what = ["-t", test] if not suite.command else suite.arguments()
    # A command to send goes last: redis-benchmark takes every word after it as its own.
    argv = [REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(port), "-c", str(suite.clients),
            "-n", str(requests), "-P", str(pipeline), "--csv", *what]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    rows = csv.DictReader(io.StringIO(result.stdout))
    return {row["test"]: float(row["rps"]) for row in rows}


def best_of(repeat: int, port_pair: tuple, suite: Suite, test: str, requests: int,
            pipeline: int) -> tuple[dict, dict]:
    """Best req/s of each server over repeat alternating runs of one test."""
    best: tuple[dict, dict] = ({}, {})
    for _ in range(repeat):
        # Alternate the servers test by test, so a noisy moment hurts neither side alone.
        for port, seen in zip(port_pair, best):
            for row, rps in redis_benchmark(port, suite, test, requests, pipeline).items():
                seen[row] = max(rps, seen.get(row, 0.0))
    return best


def machine() -> str:
    uvloop = importlib.util.find_spec("uvloop") is not None
    version = subprocess.run([REDIS_SERVER, "--version"], capture_output=True,
                             text=True).stdout.split()
    redis = next((v[2:] for v in version if v.startswith("v=")), "?")
    return (f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}, nproc {os.cpu_count()}, "
            f"Python {platform.python_version()}, uvloop {'on' if uvloop else 'off'}, "
            f"redis-server {redis}, load average {os.getloadavg()[0]:.1f} at start")


def command_line(suite: Suite, tests: list, requests: int, pipeline: int) -> str:
    options = f"-c {suite.clients} -n {requests}" + (f" -P {pipeline}" if pipeline > 1 else "")
    if suite.command:
        return f"redis-benchmark {options} {' '.join(suite.arguments())}"
    return f"redis-benchmark -t {','.join(tests)} {options}"


def run_suite(suite: Suite, requests: int, repeat: int, ports: tuple) -> None:
    print(f"\n### {suite.name}\n")
    tests = suite.tests.split(",")
    missing = {t: missing_commands(ports[0], needs(t)) for t in tests}
    tests = [t for t in tests if not missing[t]]
    absent = sorted({name for names in missing.values() for name in names})
    if absent:
        print(f"Alchemy does not have {', '.join(absent)} yet: "
              f"{'these tests were not run' if tests else 'suite not run'}.\n")
    for pipeline in suite.pipelines if tests else ():
        print(f"`{command_line(suite, tests, requests, pipeline)}`"
              + (f" (best of {repeat})" if repeat > 1 else "") + "\n")
        print("| test | Alchemy req/s | redis req/s | Alchemy/redis |")
        print("| --- | ---: | ---: | ---: |")
        for test in tests:
            ours, theirs = best_of(repeat, ports, suite, test, requests, pipeline)
            for row, rps in ours.items():
                peer = theirs.get(row)
                ratio = f"{rps / peer:.3f}" if peer else "-"
                print(f"| {row} | {rps:,.0f} | {peer or 0:,.0f} | {ratio} |", flush=True)
        print()


def measure_set(workdir: str, suite: Suite, requests: int, repeat: int,
                appendfsync: str | None) -> dict:
    """SET req/s of both servers, fresh ones in workdir, per pipeline: {P: (ours, redis)}."""
    os.makedirs(workdir)
    settings = f'save ""\nappendonly yes\nappendfsync {appendfsync}\n' if appendfsync \
        else 'save ""\nappendonly no\n'
    alchemy = start_alchemy(workdir, settings)
    try:
        redis = start_redis(workdir, appendfsync)
        try:
            results = {}
            for pipeline in suite.pipelines:
                ours, theirs = best_of(repeat, (alchemy.port, redis.port), suite, "set",
                                       requests, pipeline)
                results[pipeline] = (ours["SET"], theirs["SET"])
            return results
        finally:
            redis.stop()
    finally:
        alchemy.stop()


def run_durability(suite: Suite, policies: list, requests: int, repeat: int,
                   workdir: str) -> None:
    print(f"\n### {suite.name}: SET with the append-only log\n")
    workdir = os.path.join(workdir, suite.name)  # each suite's servers start afresh
    plain = measure_set(os.path.join(workdir, "plain"), suite, requests, repeat, None)
    logged = {policy: measure_set(os.path.join(workdir, policy), suite, requests, repeat,
                                  policy) for policy in policies}
    for pipeline in suite.pipelines:
        print(f"`{command_line(suite, ['set'], requests, pipeline)}`"
              + (f" (best of {repeat})" if repeat > 1 else "") + "\n")
        print("| appendfsync | Alchemy req/s | redis req/s | Alchemy/redis "
              "| Alchemy/redis without persistence |")
        print("| --- | ---: | ---: | ---: | ---: |")
        ours, theirs = plain[pipeline]
        for policy in policies:
            rps, peer = logged[policy][pipeline]
            print(f"| {policy} | {rps:,.0f} | {peer:,.0f} | {rps / peer:.3f} "
                  f"| {ours / theirs:.3f} |")
        print(f"| (none) | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.3f} | |\n",
              flush=True)


def main(argv: list | None = None) -> None:
    names = [s.name for s in SUITES]
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--suite", action="append", choices=names,
                        help="suite to run (repeatable; default: all)")
    parser.add_argument("-n", "--requests", type=int,
                        help="requests per test (default: each suite's own)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each test this many times per server, keep the best")
    parser.add_argument("--appendfsync", action="append",
                        choices=("always", "everysec", "no"),
                        help="measure SET with the log under this policy (repeatable)")
    args = parser.parse_args(argv)
    suites = [s for s in SUITES if s.name in (args.suite or names)]
    with tempfile.TemporaryDirectory(prefix="alchemy-bench-") as workdir:
        if args.appendfsync:
            print(f"Alchemy vs redis-server ({machine()})")
            for suite in suites:
                run_durability(suite, args.appendfsync, args.requests or suite.requests,
                               args.repeat, workdir)
            return
        alchemy = start_alchemy(workdir)
        try:
            redis = start_redis(workdir)
            try:
                print(f"Alchemy vs redis-server ({machine()})")
                for suite in suites:
                    run_suite(suite, args.requests or suite.requests, args.repeat,
                              (alchemy.port, redis.port))
            finally:
                redis.stop()
        finally:
            alchemy.stop()


if __name__ == "__main__":
    main()

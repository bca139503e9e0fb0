"""Compatibility yardstick: run Redis 7.0's own Tcl test suite against Alchemy.

The suite (`tests/` and `runtest` from Debian's redis source package, the same 7.0.15 as the
machine's redis-server) is fetched into the ignored `.compat/` folder on first use and never
committed. Each unit runs in the suite's external mode against a fresh Alchemy server; the
per-unit output and a parsed summary go to `.compat/results/<unit>.log`.

    python compat/run.py                          # the default units
    python compat/run.py unit/type/string expire  # chosen units ("unit/" may be omitted)
    python compat/run.py unit/multi -- --only '/WATCH'   # anything after -- goes to runtest
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPAT = REPO / ".compat"
SUITE = COMPAT / "redis"
RESULTS = COMPAT / "results"
REFERENCE = COMPAT / "reference"   # the same units run against the machine's redis-server
SRC_LIST = Path("/etc/apt/sources.list.d/alchemy-compat-src.sources")

DEFAULT_UNITS = [
    "unit/protocol", "unit/info", "unit/info-command", "unit/auth", "unit/quit",
    "unit/type/string", "unit/type/incr", "unit/keyspace", "unit/scan", "unit/expire",
    "unit/bitops", "unit/multi", "unit/other", "unit/introspection", "unit/introspection-2",
    "unit/dump", "unit/sort", "unit/type/list", "unit/type/list-2", "unit/type/list-3",
    "unit/type/hash", "unit/type/set", "unit/type/zset", "unit/type/stream",
    "unit/type/stream-cgroups", "unit/geo", "unit/hyperloglog", "unit/pubsub",
    "unit/scripting", "unit/functions",
]
# Tests needing what Alchemy does not offer: replication (SYNC), DEBUG/OBJECT internals,
# PFDEBUG and maxmemory eviction. Everything else runs, so a missing command shows up.
DEFAULT_TAGS = "-needs:repl -needs:debug -needs:pfdebug -needs:config-maxmemory"
# Redis's internal encodings (listpack, intset, ...) are not part of the contract.
HARNESS_OPTIONS = ["--clients", "1", "--durable", "--ignore-encoding"]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STATUS = re.compile(r"^\[(ok|err|skip|ignore|exception)\]: (.*)$")
UNIT_DONE = re.compile(r"^\[\d+/\d+ done\]: ")
TEST_IN_FILE = re.compile(r"^(.*) in tests/\S+\.tcl$")
IN_PROGRESS = re.compile(r"=> \(IN PROGRESS\) (.*)$")
# A test whose value differs from the expected one; the harness puts expected first.
UNEXPECTED = re.compile(r"^Expected '(.*)' to equal or match '(.*)'$", re.S)


@dataclasses.dataclass
class UnitResult:
    """What one unit's run produced, parsed from the runtest output."""
    unit: str
    passed_tests: list[str] = dataclasses.field(default_factory=list)
    # The tests redis-server passes under the same options, when known.
    redis_tests: list[str] | None = None
    skipped: int = 0
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # A start_server block that raised outside any test: its remaining tests never ran.
    broken_blocks: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    aborted: str = ""          # why the whole unit stopped early, "" when it ran to the end
    last_test: str = ""        # the last test that reported, to locate an abort
    hung_test: str = ""        # the test in progress when the harness gave up waiting
    server_died: str = ""      # set when the Alchemy process exited during the run
    output: str = ""           # runtest's output, for the log

    @property
    def passed(self) -> int:
        return len(self.passed_tests)

    @property
    def not_run(self) -> list[str]:
        """Tests redis-server passes that never reported here: skipped by an abort, or not
        defined because a probe of the server (INFO, say) answered differently."""
        reported = collections.Counter(self.passed_tests + [n for n, _ in self.failures])
        return list((collections.Counter(self.redis_tests or []) - reported).elements())

    @property
    def status(self) -> str:
        if self.server_died:
            return "SERVER DIED"
        if self.aborted:
            return "ABORTED"
        if self.broken_blocks:
            return "PARTIAL"
        if self.failures:
            return "failures"
        return "tests missing" if self.not_run else "ok"


# ---------------------------------------------------------------- fetching the suite

def run_setup(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a setup command, failing loudly with its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        sys.exit(f"compat: `{' '.join(cmd)}` failed:\n{proc.stdout}{proc.stderr}")
    return proc


def apt_install(*packages: str) -> None:
    run_setup(["apt-get", "update", "-qq"])
    run_setup(["apt-get", "install", "-y", "-qq", *packages],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def has_redis_source() -> bool:
    proc = subprocess.run(["apt-cache", "showsrc", "redis"], capture_output=True, text=True)
    return proc.returncode == 0 and "Package: redis" in proc.stdout


def deb_src_entries() -> str:
    """The machine's active Debian `deb` entries, turned into `deb-src` entries (deb822)."""
    stanzas = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        if Path(path) == SRC_LIST:
            continue
        for stanza in Path(path).read_text().split("\n\n"):
            fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and "debian" in fields.get("URIs", ""):
                fields["Types"] = "deb-src"
                fields.pop("Architectures", None)
                stanzas.append("".join(f"{k}: {v}\n" for k, v in fields.items()))
    one_line = [Path("/etc/apt/sources.list")] + [
        Path(p) for p in sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]
    for path in one_line:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            m = re.match(r"^deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$", line.strip())
            if m and "debian" in m.group(2):
                stanza = f"Types: deb-src\nURIs: {m.group(2)}\nSuites: {m.group(3)}\n" \
                         f"Components: {m.group(4)}\n"
                signed = re.search(r"signed-by=(\S+?)[\s\]]", m.group(1) or "")
                stanzas.append(stanza + (f"Signed-By: {signed.group(1)}\n" if signed else ""))
    return "\n".join(stanzas)


def redis_source_version() -> str:
    """The source version of the installed redis-server, else apt's candidate version."""
    proc = subprocess.run(["dpkg-query", "-W", "-f=${source:Version}", "redis-server"],
                          capture_output=True, text=True)
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.strip()
    policy = run_setup(["apt-cache", "showsrc", "--only-source", "redis"]).stdout
    return re.findall(r"^Version: (\S+)", policy, re.M)[-1]


def fetch_suite() -> None:
    """Download Debian's redis source package and unpack it into .compat/redis."""
    if (SUITE / "runtest").exists():
        return
    print("compat: fetching Redis's test suite (Debian source package redis)...", flush=True)
    missing = [pkg for tool, pkg in (("dpkg-source", "dpkg-dev"), ("tclsh8.6", "tcl"))
               if shutil.which(tool) is None]
    if missing:
        apt_install(*missing)
    if not has_redis_source():
        entries = deb_src_entries()
        if not entries:
            sys.exit("compat: no Debian apt source found to derive a deb-src entry from")
        SRC_LIST.write_text(entries)
        run_setup(["apt-get", "update", "-qq"])
    version = redis_source_version()
    if not re.match(r"^(\d+:)?7\.0\.", version):
        sys.exit(f"compat: redis source version {version} is not 7.0.x")
    download = COMPAT / "download"
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    run_setup(["apt-get", "source", "--download-only", f"redis={version}"], cwd=download)
    dsc = next(download.glob("redis_*.dsc"))
    unpacked = download / "redis"
    run_setup(["dpkg-source", "--no-check", "-x", dsc.name, unpacked.name], cwd=download)
    (unpacked / "VERSION").write_text(version + "\n")
    unpacked.rename(SUITE)
    shutil.rmtree(download)
    shutil.rmtree(REFERENCE, ignore_errors=True)   # counts made with another copy
    print(f"compat: suite {version} unpacked in {os.path.relpath(SUITE)}", flush=True)


# ---------------------------------------------------------------- running a unit

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, server: subprocess.Popen, deadline: float) -> bool:
    """True once the server answers PING, False if it exits or stays silent until deadline."""
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen) -> None:
    """End a process we started, with its process group (runtest forks a Tcl test client).
    Once it has been reaped its id may be reused, so then nothing is signalled."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def error_detail(lines: list[str], start: int) -> str:
    """The error reported under a status line, with the command that raised it when known.

    The harness prints a failure's message (minus its first 10 characters when it is not an
    assertion), then for Tcl errors the full message and a stack of quoted commands.
    """
    block = []
    for line in lines[start:]:
        if STATUS.match(line) or line.startswith("Testing "):
            break
        block.append(line)
    if not block:
        return ""
    message = block[0].strip()
    if len(block) > 1 and block[1][10:].strip() == message and block[1].strip():
        message = block[1].strip()
    unexpected = UNEXPECTED.match(message)
    if unexpected:
        return f"got '{unexpected.group(2)}', expected '{unexpected.group(1)}'"
    for line in block[1:]:
        command = line.strip()
        if command.startswith('"') and not command.startswith('"[srv '):
            return f"{message}  [at {command.splitlines()[0][:120]}]"
    return message


def parse_output(unit: str, text: str) -> UnitResult:
    """Turn runtest's output into counts, failures and abort information."""
    result = UnitResult(unit)
    lines = ANSI.sub("", text).splitlines()
    for i, line in enumerate(lines):
        m = STATUS.match(line)
        if not m:
            hung = IN_PROGRESS.search(line)
            if line.startswith("[TIMEOUT]"):
                result.aborted = "no reply within --timeout (a command hung or looped)"
            elif hung and result.aborted:
                result.hung_test = hung.group(1)
            continue
        status, data = m.groups()
        if status == "ok":
            result.last_test = re.sub(r" \(\d+ ms\)$", "", data)
            result.passed_tests.append(result.last_test)
        elif status in ("skip", "ignore"):
            result.skipped += 1
        elif status == "err":
            named = TEST_IN_FILE.match(data)
            if named:
                result.failures.append((named.group(1), error_detail(lines, i + 1)))
                result.last_test = named.group(1)
            else:
                block = error_detail(lines, i + 1) or data
                result.broken_blocks.append((result.last_test, block))
        elif status == "exception":
            result.aborted = error_detail(lines, i + 1) or data
    if not result.aborted and not any(UNIT_DONE.match(line) for line in lines):
        result.aborted = harness_failure(lines)
    return result


def harness_failure(lines: list[str]) -> str:
    """Why runtest ended without finishing the unit (no free control port, say): the first
    line it printed that is not routine chatter or a test report."""
    routine = ("** SLOW COMPUTER", "Cleanup:", "Starting test server", "[", "Testing ")
    return next((line.strip() for line in lines if line.strip()
                 and not line.startswith(routine)), "runtest ended without a word")


def server_command(reference: bool, port: int, data_dir: str) -> list[str]:
    """Alchemy, or with `reference` the real redis-server, on port with a private data dir."""
    if reference:
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", data_dir,
                "--save", "", "--appendonly", "no"]
    python = REPO / ".venv" / "bin" / "python"
    return [str(python if python.exists() else sys.executable), "-m", "alchemy_server",
            "--port", str(port), "--dir", data_dir]


def run_unit(unit: str, tags: str, timeout: int, extra: list[str],
             reference: bool = False) -> UnitResult:
    """Start a fresh server, run one unit against it, and parse the outcome."""
    server_log_path = (REFERENCE if reference else RESULTS) / f"{unit}.server.log"
    server_log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="alchemy-compat-") as data_dir, \
            open(server_log_path, "w") as server_log:
        server = subprocess.Popen(server_command(reference, port, data_dir), cwd=REPO,
                                  stdout=server_log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            if not wait_ready(port, server, time.monotonic() + 30):
                result = UnitResult(unit, aborted="the server did not start")
                output = ""
            else:
                for _ in range(3):   # a control port taken between check and bind: retry
                    output = run_runtest(unit, port, tags, timeout, extra)
                    if f"Testing {unit}" in output:
                        break
                result = parse_output(unit, output)
            if server.poll() is not None:
                result.server_died = f"exit code {server.returncode}"
        finally:
            stop(server)
    result.output = ANSI.sub("", output)
    return result


def write_log(result: UnitResult, folder: Path) -> None:
    """The unit's report, then everything runtest printed."""
    (folder / f"{result.unit}.log").write_text(
        format_report(result) + "\n\n---- runtest output ----\n" + result.output)


def run_runtest(unit: str, port: int, tags: str, timeout: int, extra: list[str]) -> str:
    """Run the suite's harness in external mode; return its combined output."""
    # The harness looks for its control port from baseport-32 up (and needs port+10000 free
    # too). A random start below the ephemeral range keeps concurrent runs, and the client
    # sockets of everything else on the machine, off the port it picks.
    cmd = ["./runtest", "--host", "127.0.0.1", "--port", str(port), "--single", unit,
           "--baseport", str(random.randrange(12000, 20000)),
           *HARNESS_OPTIONS, "--timeout", str(min(timeout // 2, 120)), "--tags", tags, *extra]
    env = {**os.environ, "TERM": "dumb"}    # no colour codes in the output
    proc = subprocess.Popen(cmd, cwd=SUITE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        out, _ = proc.communicate()
        out += f"\n[exception]: unit killed after {timeout} seconds\n".encode()
    finally:
        stop(proc)
    return out.decode("utf-8", "replace")


# ---------------------------------------------------------------- reporting

def format_report(r: UnitResult) -> str:
    lines = [f"{r.unit}: {r.passed} passed, {len(r.failures)} failed, {r.skipped} skipped"
             f" [{r.status}]"]
    lines += [f"  FAIL {name}\n       {detail}" for name, detail in r.failures]
    lines += [f"  BLOCK ABORTED after '{after or 'the start'}': {err}"
              for after, err in r.broken_blocks]
    lines += [f"  NOT RUN {name}   (passes on redis-server)" for name in r.not_run]
    if r.aborted:
        where = f"in '{r.hung_test}'" if r.hung_test else f"after '{r.last_test or 'the start'}'"
        lines.append(f"  UNIT ABORTED {where}: {r.aborted}")
    if r.server_died:
        lines.append(f"  SERVER DIED ({r.server_died}): see {r.unit}.server.log")
    return "\n".join(lines)


def summary_table(results: list[UnitResult]) -> str:
    """One row per unit; `redis` is how many tests redis-server itself passes in this mode."""
    width = max(len(r.unit) for r in results + [UnitResult("total")])

    def row(unit, passed, failed, not_run, skipped, redis, status):
        line = (f"{unit:<{width}}  {passed:>6}  {failed:>6}  {not_run:>7}  {skipped:>7}  "
                f"{redis:>5}  {status}")
        return line.rstrip()

    def redis(r):
        return "?" if r.redis_tests is None else len(r.redis_tests)

    rule = "-" * (width + 54)
    rows = [row("unit", "passed", "failed", "not run", "skipped", "redis", "status"), rule]
    rows += [row(r.unit, r.passed, len(r.failures), len(r.not_run), r.skipped, redis(r),
                 r.status) for r in results]
    known = all(r.redis_tests is not None for r in results)
    rows += [rule, row("total", sum(r.passed for r in results),
                       sum(len(r.failures) for r in results),
                       sum(len(r.not_run) for r in results), sum(r.skipped for r in results),
                       sum(len(r.redis_tests) for r in results) if known else "?", "")]
    return "\n".join(rows)


def redis_tests(unit: str, tags: str, timeout: int, extra: list[str]) -> list[str] | None:
    """Tests of unit that redis-server passes with the same options: run once, then cached.
    A reference run that did not pass cleanly (a port clash, say) is reported, not kept."""
    if shutil.which("redis-server") is None:
        return None
    cache = REFERENCE / "passed.json"
    key = json.dumps([unit, tags, extra])
    known = json.loads(cache.read_text()) if cache.exists() else {}
    if key in known:
        return known[key]
    result = run_unit(unit, tags, timeout, extra, reference=True)
    write_log(result, REFERENCE)
    if result.status == "ok":
        # Other runs may have added entries meanwhile: merge, then replace the file whole.
        known = json.loads(cache.read_text()) if cache.exists() else {}
        known[key] = result.passed_tests
        scratch = cache.with_suffix(f".{os.getpid()}")
        scratch.write_text(json.dumps(known, indent=1))
        scratch.rename(cache)
    return result.passed_tests


def find_unit(name: str) -> str:
    """The suite's name for a unit given as `unit/type/set`, `type/set`, `set` or a path."""
    name = name.removeprefix("tests/").removesuffix(".tcl")
    for candidate in (name, f"unit/{name}", f"unit/type/{name}"):
        if (SUITE / "tests" / f"{candidate}.tcl").exists():
            return candidate
    sys.exit(f"compat: no such unit in the suite: {name}")


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("units", nargs="*", help="units to run (default: the usual set)")
    parser.add_argument("--tags", default=DEFAULT_TAGS,
                        help=f"runtest --tags filter (default: {DEFAULT_TAGS!r})")
    parser.add_argument("--timeout", type=int, default=900,
                        help="seconds before a unit is killed (default 900); the harness "
                             "gives up on a silent test after half that, at most 120")
    args = parser.parse_args(argv)
    fetch_suite()
    units = [find_unit(u) for u in (" ".join(args.units).split() or DEFAULT_UNITS)]
    results = []
    for unit in units:
        print(f"== {unit}", flush=True)
        started = time.monotonic()
        result = run_unit(unit, args.tags, args.timeout, extra)
        result.redis_tests = redis_tests(unit, args.tags, args.timeout, extra)
        results.append(result)
        write_log(result, RESULTS)
        print(format_report(result), f"({time.monotonic() - started:.0f}s)", flush=True)
    table = summary_table(results)
    (RESULTS / "SUMMARY.txt").write_text(table + "\n")
    print("\n" + table)
    print(f"\nlogs: {os.path.relpath(RESULTS)}/<unit>.log (redis-server's: "
          f"{os.path.relpath(REFERENCE)}/)")


if __name__ == "__main__":
    main()

"""The `alchemy-server` command line: --help, --config FILE, and options overriding the file."""

import os
import re
import resource
import socket
import subprocess
import sys

import pytest
import redis

from conftest import ROOT

OPTIONS = ["--config", "--port", "--bind", "--dir", "--appendfsync", "--requirepass",
           "--loglevel"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Started:
    """alchemy-server run with exactly the given arguments (no --port added)."""

    def __init__(self, *args: str, preexec_fn=None):
        self.proc = subprocess.Popen([sys.executable, "-m", "alchemy_server", *args],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     cwd=ROOT, preexec_fn=preexec_fn)
        self.port = None
        seen = []
        for line in self.proc.stderr:
            line = line.decode(errors="replace")
            seen.append(line)
            m = re.search(r"Ready to accept connections on .* port (\d+)", line)
            if m:
                self.port = int(m.group(1))
                return
        raise RuntimeError("server did not start:\n" + "".join(seen))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def test_help_mentions_every_option():
    result = subprocess.run([sys.executable, "-m", "alchemy_server", "--help"],
                            capture_output=True, cwd=ROOT, timeout=30)
    assert result.returncode == 0
    text = result.stdout.decode()
    assert text.startswith("usage: alchemy-server")
    for option in OPTIONS:
        assert option in text


def test_console_script_help():
    script = os.path.join(os.path.dirname(sys.executable), "alchemy-server")
    if not os.path.exists(script):
        pytest.skip("alchemy-server is not installed in this environment")
    result = subprocess.run([script, "--help"], capture_output=True, timeout=30)
    assert result.returncode == 0
    assert "--requirepass" in result.stdout.decode()


def test_config_file_port_and_requirepass(tmp_path):
    port = free_port()
    conf = tmp_path / "alchemy.conf"
    conf.write_text(f"# test settings\nport {port}\nrequirepass \"file pass\"\n"
                    f"dir {tmp_path / 'data'}\nhz 20\n")
    server = Started("--config", str(conf))
    try:
        assert server.port == port
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, protocol=2).get("k")
        client = redis.Redis(port=port, password="file pass")
        assert client.ping() is True
        assert client.config_get("hz") == {"hz": "20"}
        assert client.info("server")["config_file"] == str(conf)
        client.close()
    finally:
        server.stop()


def test_command_line_overrides_the_file(tmp_path):
    file_port, cli_port = free_port(), free_port()
    conf = tmp_path / "alchemy.conf"
    conf.write_text(f"port {file_port}\nrequirepass frompfile\nloglevel warning\n")
    server = Started("--config", str(conf), "--port", str(cli_port), "--requirepass",
                     "fromcli", "--loglevel", "notice", "--dir", str(tmp_path / "data"))
    try:
        assert server.port == cli_port
        client = redis.Redis(port=cli_port, password="fromcli")
        assert client.config_get("requirepass") == {"requirepass": "fromcli"}
        assert client.config_get("loglevel") == {"loglevel": "notice"}
        client.close()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=cli_port, password="frompfile").ping()
    finally:
        server.stop()


def test_bad_config_file_is_reported(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("port 1\nnosuchsetting 5\n")
    result = subprocess.run([sys.executable, "-m", "alchemy_server", "--config", str(conf)],
                            capture_output=True, cwd=ROOT, timeout=30)
    assert result.returncode != 0
    assert f"{conf}:2" in result.stderr.decode()
    assert "unknown setting 'nosuchsetting'" in result.stderr.decode()
    missing = subprocess.run([sys.executable, "-m", "alchemy_server", "--config",
                              str(tmp_path / "missing.conf")],
                             capture_output=True, cwd=ROOT, timeout=30)
    assert missing.returncode != 0
    assert "missing.conf" in missing.stderr.decode()


def test_bad_option_value_is_refused():
    result = subprocess.run([sys.executable, "-m", "alchemy_server", "--appendfsync", "sometimes"],
                            capture_output=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2
    assert "--appendfsync" in result.stderr.decode()


def test_server_raises_a_low_open_files_limit(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("the hard descriptor limit is too low")
    if soft != resource.RLIM_INFINITY and soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    server = Started("--port", "0", "--dir", str(tmp_path), preexec_fn=low_limit)
    socks = []
    try:
        for _ in range(400):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"PING\r\n")
            socks.append(sock)
        for sock in socks:
            sock.settimeout(10)
            assert sock.recv(100) == b"+PONG\r\n"
    finally:
        for sock in socks:
            sock.close()
        server.stop()

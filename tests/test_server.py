"""Server commands: INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB/FLUSHALL, TIME, SHUTDOWN,
FUNCTION FLUSH, through redis-py, redis-cli and the in-process API."""

import re
import socket
import time

import hiredis
import pytest
import redis

from alchemy import AlchemyError
from conftest import ServerProcess


def error_of(call, *args) -> str:
    with pytest.raises(redis.ResponseError) as e:
        call(*args)
    return str(e.value)


class Plain:
    """A connection that returns replies as hiredis parses them, without redis-py's reply
    callbacks: errors come back as hiredis.ReplyError values."""

    def __init__(self, server, protocol: int = 2):
        self.sock = socket.create_connection(("127.0.0.1", server.port))
        self.reader = hiredis.Reader()
        if protocol == 3:
            self("HELLO", "3")

    def __call__(self, *args):
        request = b"*%d\r\n" % len(args)
        for arg in args:
            arg = arg if isinstance(arg, bytes) else str(arg).encode()
            request += b"$%d\r\n%s\r\n" % (len(arg), arg)
        self.sock.sendall(request)
        while (reply := self.reader.gets()) is False:
            self.reader.feed(self.sock.recv(65536))
        return reply

    def close(self):
        self.sock.close()


@pytest.fixture
def p(server, r):
    """A plain RESP2 connection on a flushed server."""
    conn = Plain(server)
    yield conn
    conn.close()


def err(reply) -> str:
    assert isinstance(reply, hiredis.ReplyError), reply
    return str(reply)


def raw(server, data: bytes) -> bytes:
    """Send data and read until the server has been quiet for a moment."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(data)
        sock.settimeout(0.5)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except socket.timeout:
            pass
    return out


# -- INFO -----------------------------------------------------------------------------------

DEFAULT_TITLES = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU",
                  "Modules", "Errorstats", "Cluster", "Keyspace"]
ALL_TITLES = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU",
              "Modules", "Commandstats", "Errorstats", "Latencystats", "Cluster", "Keyspace"]


def info_text(server, *sections: str) -> str:
    conn = Plain(server)
    text = conn("INFO", *sections).decode()
    conn.close()
    return text


def titles(text: str) -> list:
    return re.findall(r"^# (\w+)\r$", text, re.M)


def test_info_format(server, r):
    text = info_text(server)
    assert text.startswith("# Server\r\nredis_version:7.0.15\r\n")
    assert titles(text) == DEFAULT_TITLES
    # Sections are separated by one empty line; every line ends with \r\n.
    for block in text.split("\r\n\r\n"):
        lines = block.split("\r\n")
        assert lines[0].startswith("# ")
        # Field names are lower case but for error codes (errorstat_ERR).
        assert all(re.fullmatch(r"[a-z0-9_|]+[A-Z_]*:.*", line) for line in lines[1:] if line)
    assert text.endswith("\r\n")


def test_info_server_fields(server, r):
    info = r.info("server")
    assert info["redis_version"] == "7.0.15"
    assert info["alchemy_version"] == "0.1.0"
    assert info["tcp_port"] == server.port
    assert info["process_id"] == server.proc.pid
    assert info["redis_mode"] == "standalone"
    assert info["uptime_in_seconds"] >= 0
    assert info["uptime_in_days"] == 0
    assert len(info["run_id"]) == 40


def test_info_sections_selection(server):
    assert titles(info_text(server, "all")) == ALL_TITLES
    assert titles(info_text(server, "everything")) == ALL_TITLES
    assert titles(info_text(server, "default")) == DEFAULT_TITLES
    assert titles(info_text(server, "keyspace", "SERVER")) == ["Server", "Keyspace"]
    assert titles(info_text(server, "commandstats", "default")) == \
        DEFAULT_TITLES[:8] + ["Commandstats"] + DEFAULT_TITLES[8:]
    assert titles(info_text(server, "module_list")) == ["Modules"]
    assert info_text(server, "nosuchsection") == ""


def test_info_clients_and_stats(server, r):
    before = r.info("stats")
    others = [server.client() for _ in range(3)]
    for c in others:
        c.ping()
    info = r.info("clients")
    assert info["connected_clients"] >= 4
    assert info["blocked_clients"] == 0
    assert info["maxclients"] == 10000
    after = r.info("stats")
    assert after["total_connections_received"] >= before["total_connections_received"] + 3
    assert after["total_commands_processed"] > before["total_commands_processed"]
    assert after["migrate_cached_sockets"] == 0
    for c in others:
        c.close()


def test_info_errorstats(r):
    r.config_resetstat()
    assert r.info("errorstats") == {} and r.info("stats")["total_error_replies"] == 0
    r.set("s", "x")
    for call in (lambda: r.lpush("s", 1), lambda: r.incr("s"),
                 lambda: r.execute_command("NOSUCHCMD"), lambda: r.execute_command("GET"),
                 lambda: r.evalsha("0" * 40, 0)):
        with pytest.raises(redis.ResponseError):
            call()
    # An error inside a transaction counts, and so does the EXECABORT that follows.
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        with r.pipeline() as pipe:
            pipe.set("a", 1).execute_command("GET").execute()
    assert r.info("errorstats") == {"errorstat_ERR": {"count": 4},
                                    "errorstat_WRONGTYPE": {"count": 1},
                                    "errorstat_NOSCRIPT": {"count": 1},
                                    "errorstat_EXECABORT": {"count": 1}}
    assert r.info("stats")["total_error_replies"] == 7
    assert "errorstat_ERR" in r.info()  # a default section
    r.config_resetstat()
    assert r.info("errorstats") == {} and r.info("stats")["total_error_replies"] == 0


def test_info_counts_blocked_clients(server, r, p):
    if p("COMMAND", "INFO", "blpop") == [None]:
        pytest.skip("no blocking command yet")
    blocker = socket.create_connection(("127.0.0.1", server.port))
    try:
        blocker.sendall(b"BLPOP nosuchlist 0\r\n")
        deadline = time.time() + 5
        while r.info("clients")["blocked_clients"] != 1 and time.time() < deadline:
            time.sleep(0.02)
        assert r.info("clients")["blocked_clients"] == 1
    finally:
        blocker.close()


def test_info_memory_persistence(server, r):
    memory = r.info("memory")
    assert memory["used_memory"] > 1024 * 1024
    assert re.fullmatch(r"\d+\.\d\dM", memory["used_memory_human"])
    persistence = r.info("persistence")
    assert persistence["loading"] == 0
    assert persistence["aof_enabled"] == 0
    assert persistence["rdb_bgsave_in_progress"] == 0
    before = persistence["rdb_changes_since_last_save"]
    r.set("a", 1)
    r.set("b", 2)
    assert r.info("persistence")["rdb_changes_since_last_save"] >= before + 2


def test_info_keyspace(server, r):
    assert r.info("keyspace") == {}
    r.set("a", 1)
    r.set("b", 2, ex=100)
    c = server.client(db=3)
    c.set("x", 1)
    assert r.info("keyspace") == {"db0": {"keys": 2, "expires": 1, "avg_ttl": 0},
                                  "db3": {"keys": 1, "expires": 0, "avg_ttl": 0}}
    assert "db0:keys=2,expires=1,avg_ttl=0\r\n" in info_text(server, "keyspace")
    c.close()


def test_info_expired_keys(server, r):
    before = r.info("stats")["expired_keys"]
    r.set("e", 1, px=1)
    time.sleep(0.01)
    assert r.get("e") is None
    assert r.info("stats")["expired_keys"] == before + 1


def test_instantaneous_ops_per_sec(server, r):
    deadline = time.time() + 3
    ops = 0
    while time.time() < deadline and ops == 0:
        pipe = r.pipeline(transaction=False)
        for _ in range(500):
            pipe.ping()
        pipe.execute()
        ops = r.info("stats")["instantaneous_ops_per_sec"]
    assert ops > 0


def test_info_commandstats(server, r):
    assert r.config_resetstat() is True
    r.set("k", "v")
    r.get("k")
    r.get("k")
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET", "a", "b")
    r.set("n", "x")
    with pytest.raises(redis.ResponseError):
        r.execute_command("INCR", "n")
    r.config_get("hz")
    text = info_text(server, "commandstats")
    line = re.search(r"^cmdstat_get:(.*)\r$", text, re.M).group(1)
    assert re.fullmatch(r"calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,"
                        r"failed_calls=0", line)
    assert re.search(r"^cmdstat_incr:calls=1,.*,rejected_calls=0,failed_calls=1\r$", text, re.M)
    assert re.search(r"^cmdstat_config\|get:calls=1,", text, re.M)
    assert "cmdstat_config:" not in text
    stats = r.info("commandstats")
    assert stats["cmdstat_set"]["calls"] == 2


def test_info_resp3_is_verbatim(server):
    out = raw(server, b"HELLO 3\r\nINFO server\r\n")
    assert re.search(rb"=\d+\r\ntxt:# Server\r\n", out)


def test_info_cli_and_in_process(server, db):
    assert "redis_version:7.0.15" in server.cli("INFO", "server")
    text = db.execute("INFO", "keyspace")
    assert text == b"# Keyspace\r\n"
    db.execute("SET", "k", "v")
    assert db.execute("INFO", "keyspace") == b"# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"


# -- CONFIG ---------------------------------------------------------------------------------

def test_config_get_patterns(r):
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_get("nosuch*") == {}
    found = r.config_get("maxmemory*") | r.config_get("hz") | r.config_get("port")
    assert set(found) >= {"maxmemory", "maxmemory-policy", "hz", "port"}
    listpack = r.config_get("*-max-*-entries")
    assert listpack["set-max-intset-entries"] == "512"
    # aliases answer too, with the value of the setting they name
    assert listpack["hash-max-ziplist-entries"] == listpack["hash-max-listpack-entries"]
    assert r.config_get("save") == {"save": "3600 1 300 100 60 10000"}
    assert r.config_get("appendonly") == {"appendonly": "no"}


def test_config_set_several_at_once(r):
    try:
        assert r.execute_command("CONFIG", "SET", "maxmemory", "10mb", "hz", "20") == b"OK"
        assert r.config_get("maxmemory") == {"maxmemory": str(10 * 1024 * 1024)}
        assert r.config_get("hz") == {"hz": "20"}
    finally:
        r.execute_command("CONFIG", "SET", "maxmemory", "0", "hz", "10")


def test_config_set_is_all_or_nothing(r):
    failed = "CONFIG SET failed (possibly related to argument"
    assert error_of(r.execute_command, "CONFIG", "SET", "hz", "30", "maxmemory", "lots") == \
        f"{failed} 'maxmemory') - argument must be a memory value"
    assert r.config_get("hz") == {"hz": "10"}
    assert error_of(r.execute_command, "CONFIG", "SET", "hz", "30", "nosuch", "1") == \
        "Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    assert error_of(r.execute_command, "CONFIG", "SET", "hz", "30", "HZ", "40") == \
        f"{failed} 'HZ') - duplicate parameter"
    assert error_of(r.execute_command, "CONFIG", "SET", "hz", "30", "databases", "4") == \
        f"{failed} 'databases') - can't set immutable config"
    assert error_of(r.execute_command, "CONFIG", "SET", "hz", "30", "maxmemory") == \
        "syntax error"
    assert r.config_get("hz") == {"hz": "10"}
    assert error_of(r.execute_command, "CONFIG", "SET", "maxmemory-policy", "bad") == (
        f"{failed} 'maxmemory-policy') - argument(s) must be one of the following: "
        "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, "
        "allkeys-lfu, allkeys-random, noeviction")
    assert error_of(r.execute_command, "CONFIG", "SET", "proto-max-bulk-len", "1000") == \
        f"{failed} 'proto-max-bulk-len') - argument must be between 1048576 and " \
        "9223372036854775807 inclusive"


def test_config_set_listener_and_immutable_settings(server, r):
    failed = "CONFIG SET failed (possibly related to argument"
    # Setting every value to what CONFIG GET says is a no-op, as in Redis.
    for name, value in r.config_get("*").items():
        if name not in ("daemonize", "databases", "dir", "logfile", "appendfilename"):
            assert r.config_set(name, value)
    port = r.config_get("port")
    assert error_of(r.config_set, "port", server.port + 1) == \
        f"{failed} 'port') - can't change it while the server runs"
    assert r.config_get("port") == port
    assert error_of(r.config_set, "daemonize", "yes") == \
        f"{failed} 'daemonize') - can't set immutable config"
    assert r.config_get("daemonize") == {"daemonize": "no"}


def test_config_errors_and_help(r):
    assert error_of(r.execute_command, "CONFIG") == \
        "wrong number of arguments for 'config' command"
    assert error_of(r.execute_command, "CONFIG", "SET", "hz") == \
        "wrong number of arguments for 'config|set' command"
    assert error_of(r.execute_command, "CONFIG", "BOGUS") == \
        "unknown subcommand 'BOGUS'. Try CONFIG HELP."
    assert error_of(r.execute_command, "CONFIG", "REWRITE") == \
        "The server is running without a config file"
    help_lines = r.execute_command("CONFIG", "HELP")
    assert help_lines[0] == b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"RESETSTAT" in help_lines


def test_config_resetstat(server, r):
    r.ping()
    assert r.config_resetstat() is True
    stats = r.info("stats")
    assert stats["total_commands_processed"] <= 2
    assert stats["total_connections_received"] == 0
    assert "cmdstat_ping" not in r.info("commandstats")
    assert r.info("server")["uptime_in_seconds"] >= 0


def test_config_rewrite(tmp_path):
    conf = tmp_path / "alchemy.conf"
    conf.write_text("# my settings\nhz 15\nmaxmemory 1000\nhz 16\n")
    proc = ServerProcess(tmp_path / "data", "--config", str(conf)).start()
    try:
        c = proc.client()
        assert c.config_get("hz") == {"hz": "16"}
        c.execute_command("CONFIG", "SET", "hz", "12", "maxmemory-policy", "allkeys-lru",
                          "notify-keyspace-events", "")
        assert c.execute_command("CONFIG", "REWRITE") == b"OK"
        # The file keeps its comment and order, loses the duplicate, gains what changed
        # from the defaults, including what the command line set (as in Redis).
        lines = conf.read_text().splitlines()
        assert lines[:3] == ["# my settings", "hz 12", "maxmemory 1000"]
        assert "maxmemory-policy allkeys-lru" in lines
        assert "port 0" in lines
        assert not any(line.startswith("notify-keyspace-events") for line in lines)
        assert len(lines) == 6
        assert error_of(c.execute_command, "CONFIG", "SET", "hz", "x") != ""
        assert c.config_get("hz") == {"hz": "12"}
        assert c.info("server")["config_file"] == str(conf)
        c.close()
    finally:
        proc.stop()


def test_config_in_process(db):
    assert db.execute("CONFIG", "SET", "hz", "50") == "OK"
    assert db.execute("CONFIG", "GET", "hz") == {b"hz": b"50"}
    assert db.config["hz"] == 50


def test_config_with_cli(server):
    assert server.cli("CONFIG", "GET", "maxmemory") == "maxmemory\n0\n"


# -- DBSIZE, FLUSHDB, FLUSHALL, TIME ---------------------------------------------------------

def test_dbsize_and_flushes(server, r):
    other = server.client(db=1)
    for i in range(5):
        r.set(f"k{i}", i)
    other.set("o", 1)
    assert r.dbsize() == 5
    assert r.execute_command("FLUSHDB", "ASYNC") is True
    assert r.dbsize() == 0
    assert other.dbsize() == 1
    assert error_of(r.execute_command, "FLUSHDB", "LATER") == "syntax error"
    assert error_of(r.execute_command, "FLUSHALL", "SYNC", "SYNC") == "syntax error"
    r.set("k", 1)
    assert r.execute_command("FLUSHALL", "SYNC") is True
    assert r.dbsize() == 0 and other.dbsize() == 0
    assert server.cli("DBSIZE") == "0\n"
    other.close()


def test_time(r, db):
    seconds, micros = r.time()
    assert abs(seconds - time.time()) < 5
    assert 0 <= micros < 1_000_000
    raw_reply = db.execute("TIME")
    assert all(isinstance(part, bytes) and part.isdigit() for part in raw_reply)


def test_function_flush(r):
    assert r.execute_command("FUNCTION", "FLUSH") == b"OK"
    assert r.execute_command("FUNCTION", "FLUSH", "ASYNC") == b"OK"
    assert error_of(r.execute_command, "FUNCTION", "FLUSH", "LATER") == \
        "FUNCTION FLUSH only supports SYNC|ASYNC option"


# -- SHUTDOWN -------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [(), ("NOSAVE",), ("SAVE",)])
def test_shutdown_stops_the_server(tmp_path, args):
    proc = ServerProcess(tmp_path).start()
    bystander = socket.create_connection(("127.0.0.1", proc.port))
    with socket.create_connection(("127.0.0.1", proc.port)) as sock:
        sock.sendall(b" ".join([b"SHUTDOWN", *(a.encode() for a in args)]) + b"\r\n")
        assert sock.recv(100) == b""
    assert proc.proc.wait(10) == 0
    assert bystander.recv(100) == b""
    bystander.close()


def test_shutdown_errors(server, r, db):
    assert error_of(r.execute_command, "SHUTDOWN", "LATER") == "syntax error"
    assert error_of(r.execute_command, "SHUTDOWN", "SAVE", "NOSAVE") == "syntax error"
    assert error_of(r.execute_command, "SHUTDOWN", "ABORT") == "No shutdown in progress."
    with pytest.raises(AlchemyError):
        db.execute("SHUTDOWN")
    assert r.ping() is True


def test_shutdown_refused_inside_multi(server):
    out = raw(server, b"MULTI\r\nSHUTDOWN\r\nEXEC\r\nPING\r\n")
    assert out == (b"+OK\r\n-ERR Command not allowed inside a transaction\r\n"
                   b"-EXECABORT Transaction discarded because of previous errors.\r\n+PONG\r\n")


# -- COMMAND --------------------------------------------------------------------------------

def test_command_info_format(p):
    get, = p("COMMAND", "INFO", "get")
    assert get[:6] == [b"get", 2, [b"readonly", b"fast"], 1, 1, 1]
    assert get[6] == [b"@read", b"@string", b"@fast"]
    assert get[7] == []
    assert get[8] == [[b"flags", [b"RO", b"access"],
                       b"begin_search", [b"type", b"index", b"spec", [b"index", 1]],
                       b"find_keys", [b"type", b"range", b"spec",
                                      [b"lastkey", 0, b"keystep", 1, b"limit", 0]]]]
    assert get[9] == []


def test_command_info_subcommands_and_unknown(p):
    config, missing, config_get = p("COMMAND", "INFO", "config", "nosuch",
                                                    "config|get")
    assert config[0] == b"config" and config[1] == -2
    names = [sub[0] for sub in config[9]]
    assert b"config|get" in names and b"config|set" in names
    assert missing is None
    assert config_get[:6] == [b"config|get", -3, [b"admin", b"noscript", b"loading", b"stale"],
                              0, 0, 0]
    assert config_get[6] == [b"@admin", b"@slow", b"@dangerous"]


def test_command_all_count_list(server, p):
    everything = p("COMMAND")
    count = p("COMMAND", "COUNT")
    assert len(everything) == count > 20
    names = {entry[0] for entry in everything}
    assert {b"get", b"set", b"info", b"client", b"command", b"multi"} <= names
    listed = p("COMMAND", "LIST")
    assert set(listed) >= names | {b"client|list", b"config|get"}
    assert p("COMMAND", "LIST", "FILTERBY", "PATTERN", "config*") == \
        [b"config", b"config|get", b"config|set", b"config|resetstat", b"config|rewrite",
         b"config|help"]
    assert b"ping" in p("COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection")
    assert b"get" not in p("COMMAND", "LIST", "FILTERBY", "ACLCAT", "write")
    assert p("COMMAND", "LIST", "FILTERBY", "MODULE", "x") == []


def test_command_docs(p):
    docs = p("COMMAND", "DOCS", "get", "nosuch", "config")
    as_dict = {docs[i]: docs[i + 1] for i in range(0, len(docs), 2)}
    assert set(as_dict) == {b"get", b"config"}
    get = dict(zip(as_dict[b"get"][::2], as_dict[b"get"][1::2]))
    assert get[b"summary"] == b"Get the value of a key"
    assert get[b"group"] == b"string"
    assert set(get) >= {b"summary", b"since", b"group", b"complexity"}
    config = dict(zip(as_dict[b"config"][::2], as_dict[b"config"][1::2]))
    subs = config[b"subcommands"]
    assert b"config|get" in subs[::2]
    everything = p("COMMAND", "DOCS")
    assert len(everything) == 2 * p("COMMAND", "COUNT")


def test_command_docs_resp3_map(server):
    c = Plain(server, protocol=3)
    docs = c("COMMAND", "DOCS", "ping")
    assert docs[b"ping"][b"group"] == b"connection"
    c.close()


def test_command_getkeys(p):
    assert p("COMMAND", "GETKEYS", "SET", "a", "b") == [b"a"]
    assert p("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
    assert p("COMMAND", "GETKEYSANDFLAGS", "GET", "k") == [[b"k", [b"RO", b"access"]]]
    assert err(p("COMMAND", "GETKEYS", "NOSUCH", "x")) == \
        "ERR Invalid command specified"
    assert err(p("COMMAND", "GETKEYS", "GET", "a", "b")) == \
        "ERR Invalid number of arguments specified for command"
    assert err(p("COMMAND", "GETKEYS", "PING", "x")) == \
        "ERR The command has no key arguments"
    # A command with key arguments but none in this call: fine for EVAL, not for others.
    assert p("COMMAND", "GETKEYS", "EVAL", "return 1", "0") == []
    assert err(p("COMMAND", "GETKEYS", "ZINTERCARD", "0", "a")) == \
        "ERR Invalid arguments specified for command"
    assert err(p("COMMAND", "GETKEYS", "GET")) == \
        "ERR wrong number of arguments for 'command|getkeys' command"


def test_command_help_and_errors(p):
    assert p("COMMAND", "HELP")[0] == \
        b"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert err(p("COMMAND", "BOGUS")) == \
        "ERR unknown subcommand 'BOGUS'. Try COMMAND HELP."


def test_command_through_cli_and_in_process(server, db):
    assert server.cli("COMMAND", "COUNT").strip() == str(db.execute("COMMAND", "COUNT"))
    assert db.execute("COMMAND", "GETKEYS", "GET", "x") == [b"x"]
    # redis-cli loads COMMAND DOCS for its hints and help: `help get` must work.
    out = server.cli(input=b"help get\n")
    assert "Get the value of a key" in out


def test_flush_touches_only_watched_keys_that_existed(server, r):
    for flush in ("FLUSHALL", "FLUSHDB"):
        r.set("held", 1)
        out = raw(server, b"WATCH held\r\n%s\r\nMULTI\r\nPING\r\nEXEC\r\n" % flush.encode())
        assert out == b"+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n"
        out = raw(server, b"WATCH missing\r\n%s\r\nMULTI\r\nPING\r\nEXEC\r\n" % flush.encode())
        assert out == b"+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+PONG\r\n"

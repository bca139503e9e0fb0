"""Stored procedures: FUNCTION libraries with FCALL/FCALL_RO, AlchemyDB's INTERPRET and
LUAFUNC, their persistence (snapshot, log, log rewrite, kill -9), and the engine's
call_function. Through redis-py against a real server, and the in-process Database."""

import os
import threading
import time

import pytest
import redis

from conftest import ServerProcess


def library(name: str, body: str) -> str:
    return f"#!lua name={name}\n{body}"


HELLO = library("hello", "redis.register_function('hello', function(keys, args)\n"
                         "  return 'hello ' .. (args[1] or 'world')\nend)")
SETTER = library("setter", """
redis.register_function('setkey', function(keys, args)
  return redis.call('set', keys[1], args[1])
end)
redis.register_function{function_name='getkey', flags={'no-writes'},
  description='reads a key', callback=function(keys) return redis.call('get', keys[1]) end}
redis.register_function{function_name='sneaky', flags={'no-writes'},
  callback=function(keys) return redis.call('set', keys[1], 'x') end}
""")


@pytest.fixture
def f(r):
    """A client on a server without libraries."""
    r.function_flush()
    yield r
    r.function_flush()


def error_of(call, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        call(*args)
    return str(info.value)


# -- FUNCTION LOAD / FCALL / LIST / DELETE / FLUSH ----------------------------------------

def test_load_and_call(f):
    assert f.function_load(HELLO) == b"hello"
    assert f.fcall("hello", 0) == b"hello world"
    assert f.fcall("HELLO", 0, "you") == b"hello you"  # names are found in any case
    f.function_load(SETTER)
    assert f.fcall("setkey", 1, "k", "v") == b"OK"
    assert f.get("k") == b"v"
    assert f.fcall("getkey", 1, "k") == b"v"


def test_keys_and_argv_are_the_two_arguments(f):
    f.function_load(library("kv", "redis.register_function('kv', function(keys, args)\n"
                                  "  return {#keys, #args, keys[1], args[2]}\nend)"))
    assert f.fcall("kv", 2, "a", "b", "x", "y") == [2, 2, b"a", b"y"]
    # Redis 7 passes them as arguments only: KEYS is not a global in a function.
    f.function_load(library("g", "redis.register_function('g', function() return KEYS end)"))
    assert "nonexistent global variable 'KEYS'" in error_of(f.fcall, "g", 0)


def test_list_with_flags_description_pattern_and_code(f):
    f.function_load(HELLO)
    f.function_load(SETTER)
    listed = {lib[b"library_name"] if isinstance(lib, dict) else lib[1]: lib
              for lib in f.execute_command("FUNCTION", "LIST")}
    assert set(listed) == {b"hello", b"setter"}
    only = f.execute_command("FUNCTION", "LIST", "LIBRARYNAME", "set*", "WITHCODE")
    assert len(only) == 1
    entry = dict(zip(only[0][::2], only[0][1::2]))
    assert entry[b"library_name"] == b"setter" and entry[b"engine"] == b"LUA"
    assert entry[b"library_code"] == SETTER.encode()
    functions = {}
    for item in entry[b"functions"]:
        fields = dict(zip(item[::2], item[1::2]))
        functions[fields[b"name"]] = fields
    assert functions[b"getkey"][b"description"] == b"reads a key"
    assert functions[b"getkey"][b"flags"] == [b"no-writes"]
    assert functions[b"setkey"][b"description"] is None
    assert functions[b"setkey"][b"flags"] == []
    assert "Unknown argument bogus" in error_of(f.execute_command, "FUNCTION", "LIST", "bogus")


def test_list_under_resp3_gives_maps_and_sets(server):
    client = server.client(protocol=3)
    client.function_flush()
    client.function_load(SETTER)
    (entry,) = client.execute_command("FUNCTION", "LIST")
    flags = {fn[b"name"]: fn[b"flags"] for fn in entry[b"functions"]}
    assert list(flags[b"getkey"]) == [b"no-writes"]  # a set on the wire (redis-py: list)
    client.function_flush()
    client.close()


def test_delete_and_flush(f):
    f.function_load(HELLO)
    f.function_load(SETTER)
    assert f.function_delete("hello")
    assert "Function not found" in error_of(f.fcall, "hello", 0)
    assert "Library not found" in error_of(f.function_delete, "hello")
    assert f.fcall("getkey", 1, "nothing") is None
    assert f.function_flush("SYNC")
    assert f.function_list() == []
    assert "only supports SYNC|ASYNC" in error_of(f.execute_command, "FUNCTION", "FLUSH", "x")


def test_flushall_and_script_flush_keep_functions(f):
    f.function_load(HELLO)
    f.flushall()
    f.script_flush()  # EVAL's Lua state starts afresh; the libraries have their own
    assert f.fcall("hello", 0) == b"hello world"


def test_flags_are_listed_in_redis_order(f):
    f.function_load(library("fl", "redis.register_function{function_name='fl', "
                                  "callback=function() return 1 end, "
                                  "flags={'ALLOW-OOM', 'no-writes', 'allow-oom'}}"))
    (entry,) = f.function_list()
    (function,) = entry[5]
    assert function[5] == [b"no-writes", b"allow-oom"]


def test_stats(f):
    f.function_load(HELLO)
    f.function_load(SETTER)
    stats = f.function_stats()
    assert stats[0] == b"running_script" and stats[1] is None
    engines = stats[3]
    assert engines[0] == b"LUA"
    assert engines[1] == [b"libraries_count", 2, b"functions_count", 4]


# -- errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("code, message", [
    ("return 1", "Missing library metadata"),
    ("#!lua name=x", "Invalid library metadata"),
    ("#!lua\nreturn 1", "Library name was not given"),
    ("#!lua name=a name=b\nreturn 1", "name argument was given multiple times"),
    ("#!lua name=x foo=bar\nreturn 1", "Invalid metadata value given: foo=bar"),
    ("#!python name=x\nreturn 1", "Engine 'python' not found"),
    ("#!lua name=bad-name\nreturn 1", "Library names can only contain letters"),
    ("#!lua name=x\nreturn 1", "No functions registered"),
    ("#!lua name=x\nnot lua at all", "Error compiling function: user_function:2:"),
    ("#!lua name=x\nredis.register_function('f', 'text')",
     "second argument to redis.register_function must be a function"),
    ("#!lua name=x\nredis.register_function('a-b', function() end)",
     "Library names can only contain letters"),
    ("#!lua name=x\nredis.register_function{function_name='f'}",
     "redis.register_function must get a callback argument"),
    ("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
     "flags={'fast'}}", "unknown flag given"),
    ("#!lua name=x\nredis.register_function('f', function() end)\n"
     "redis.register_function('f', function() end)", "Function already exists in the library"),
    # At load time only the library API is in reach, and globals stay locked.
    ("#!lua name=x\nreturn redis.call('ping')", "nonexistent global variable 'call'"),
    ("#!lua name=x\nlocal r = math.random()", "nonexistent global variable 'math'"),
    ("#!lua name=x\nleak = 1", "Attempt to modify a readonly table"),
    ("#!lua name=x\nlocal a = 1 while true do a = a + 1 end", "FUNCTION LOAD timeout"),
])
def test_load_errors(f, code, message):
    assert message in error_of(f.function_load, code)
    assert f.function_list() == []


def test_load_conflicts_and_replace(f):
    f.function_load(HELLO)
    assert "Library 'hello' already exists" in error_of(f.function_load, HELLO)
    clash = library("other", "redis.register_function('Hello', function() return 1 end)")
    assert "Function Hello already exists" in error_of(f.function_load, clash)
    broken = library("hello", "redis.register_function('hello', 42)")
    assert "must be a function" in error_of(f.function_load, broken, True)
    assert f.fcall("hello", 0) == b"hello world"  # a failed REPLACE keeps the old library
    f.function_load(library("hello", "redis.register_function('hello', function() "
                                     "return 'new' end)"), replace=True)
    assert f.fcall("hello", 0) == b"new"
    assert "Unknown option given: FORCE" in error_of(f.execute_command, "FUNCTION", "LOAD",
                                                     "FORCE", HELLO)


def test_fcall_errors(f):
    f.function_load(HELLO)
    assert "Function not found" in error_of(f.fcall, "nope", 0)
    assert "Bad number of keys provided" in error_of(f.execute_command, "FCALL", "hello", "x")
    assert "can't be greater than number of args" in error_of(f.fcall, "hello", 3, "a")
    assert "can't be negative" in error_of(f.fcall, "hello", -1, "a")
    f.function_load(library("boom", "redis.register_function('boom', function()\n"
                                    "  return nosuch.field\nend)"))
    message = error_of(f.fcall, "boom", 0)
    assert "nonexistent global variable 'nosuch'" in message
    assert "script: boom, on @user_function:3." in message
    assert f.ping()  # the server is unaffected


def test_fcall_ro_rules(f):
    f.function_load(SETTER)
    f.set("k", "v")
    assert f.fcall_ro("getkey", 1, "k") == b"v"
    assert "Can not execute a script with write flag using *_ro command" in \
        error_of(f.fcall_ro, "setkey", 1, "k", "x")
    # no-writes holds under FCALL too.
    assert "Write commands are not allowed from read-only scripts" in \
        error_of(f.fcall, "sneaky", 1, "k")
    assert "Write commands are not allowed" in error_of(f.fcall_ro, "sneaky", 1, "k")
    assert f.get("k") == b"v"


def test_library_api_is_gone_at_run_time(f):
    f.function_load(library("lib", """
local api = redis
redis.register_function('again', function() api.register_function('x', function() end) end)
redis.register_function('poke', function() api.redis = redis end)
"""))
    assert "can only be called on FUNCTION LOAD command" in error_of(f.fcall, "again", 0)
    assert "Attempt to modify a readonly table" in error_of(f.fcall, "poke", 0)


# -- DUMP / RESTORE ----------------------------------------------------------------------

def test_dump_and_restore_policies(f):
    f.function_load(HELLO)
    payload = f.function_dump()
    f.function_flush()
    assert f.function_restore(payload)
    assert f.fcall("hello", 0) == b"hello world"
    # APPEND (the default) refuses a library that exists; REPLACE takes it.
    f.function_load(library("hello", "redis.register_function('hello', function() "
                                     "return 'mine' end)"), replace=True)
    assert "Library hello already exists" in error_of(f.function_restore, payload)
    assert f.fcall("hello", 0) == b"mine"
    assert f.function_restore(payload, "REPLACE")
    assert f.fcall("hello", 0) == b"hello world"
    # FLUSH drops what is there first.
    f.function_load(SETTER)
    assert f.function_restore(payload, "FLUSH")
    assert [lib[1] for lib in f.function_list()] == [b"hello"]
    assert "Wrong restore policy" in error_of(f.function_restore, payload, "MERGE")


def test_restore_refuses_bad_payloads_and_keeps_libraries(f):
    f.function_load(HELLO)
    payload = f.function_dump()
    assert "payload version or checksum are wrong" in error_of(f.function_restore, b"junk")
    damaged = payload[:12] + bytes([payload[12] ^ 1]) + payload[13:]
    assert "payload version or checksum are wrong" in error_of(f.function_restore, damaged)
    f.set("k", "v")  # a key's DUMP payload is not a library
    assert "not a function" in error_of(f.function_restore, f.dump("k"))
    assert "unknown subcommand or wrong number of arguments for 'restore'" in \
        error_of(f.execute_command, "FUNCTION", "restore", payload, "FLUSH", "extra")
    assert f.fcall("hello", 0) == b"hello world"


def test_restore_function_collision_changes_nothing(f):
    f.function_load(SETTER)
    payload = f.function_dump()
    f.function_flush()
    f.function_load(library("mine", "redis.register_function('getkey', function() "
                                    "return 'mine' end)"))
    assert "Function getkey already exists" in error_of(f.function_restore, payload)
    assert f.fcall("getkey", 0) == b"mine"
    assert "Function not found" in error_of(f.fcall, "setkey", 1, "k", "v")


# -- FUNCTION KILL -----------------------------------------------------------------------

def test_function_kill_stops_a_looping_function(server, f):
    f.config_set("lua-time-limit", 50)
    f.function_load(library("loop", "redis.register_function('loop', function()\n"
                                    "  local a = 1 while true do a = a + 1 end\nend)"))
    errors = []

    def run():
        client = server.client()
        try:
            client.fcall("loop", 0)
        except redis.ResponseError as e:
            errors.append(str(e))
        client.close()

    other = server.client()
    other.ping()  # connected first: a connection made while a script runs waits for it
    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.time() + 10
    while True:
        try:
            other.ping()
        except redis.exceptions.BusyLoadingError:
            break
        except redis.ResponseError as e:
            assert "BUSY" in str(e)
            break
        assert time.time() < deadline
        time.sleep(0.02)
    assert "FUNCTION KILL" in error_of(other.ping)
    assert "BUSY" in error_of(other.script_kill)  # SCRIPT KILL is not for functions
    stats = other.function_stats()
    running = dict(zip(stats[1][::2], stats[1][1::2]))
    assert running[b"name"] == b"loop" and running[b"command"] == [b"FCALL", b"loop", b"0"]
    assert other.function_kill()
    runner.join(10)
    assert errors and "killed" in errors[0]
    assert other.ping()
    f.config_set("lua-time-limit", 5000)
    other.close()


def test_function_kill_without_a_running_function(f):
    assert "No scripts in execution" in error_of(f.function_kill)


# -- INTERPRET and LUAFUNC ---------------------------------------------------------------

def test_interpret_defines_globals_luafunc_calls_them(f):
    f.execute_command("INTERPRET", "LUA", "function greet(name) return 'hello ' .. name end\n"
                      "function pair(a, b) return {a, b, tonumber(a) + tonumber(b)} end")
    assert f.execute_command("LUAFUNC", "greet", "russ") == b"hello russ"
    # Lua -> RESP rules: numbers truncated to integers, tables as arrays.
    assert f.execute_command("LUAFUNC", "pair", "2", "3.5") == [b"2", b"3.5", 5]
    f.execute_command("INTERPRET", "LUA", "function counter(key) "
                      "return redis.call('incr', key) end")
    assert f.execute_command("LUAFUNC", "counter", "c") == 1
    assert f.execute_command("LUAFUNC", "counter", "c") == 2  # writes at call time are fine
    assert "no function 'nope'" in error_of(f.execute_command, "LUAFUNC", "nope")


def test_interpret_and_luafunc_through_redis_cli(server, f):
    assert server.cli("INTERPRET", "LUA", "function shout(s) return string.upper(s) end") \
        .strip() == ""
    assert server.cli("LUAFUNC", "shout", "quiet").strip() == "QUIET"
    assert server.cli("FCALL", "shout", "0").strip() == "ERR Function not found"


def test_interpret_rules(f):
    f.execute_command("INTERPRET", "LUA", "state = {n = 0}\n"
                      "function bump() n_calls = 1 end")
    assert "Attempt to modify a readonly table" in error_of(f.execute_command, "LUAFUNC",
                                                            "bump")
    assert "redefine the built-in global 'redis'" in \
        error_of(f.execute_command, "INTERPRET", "LUA", "redis = nil")
    assert "Write commands are not allowed" in \
        error_of(f.execute_command, "INTERPRET", "LUA", "redis.call('set', 'x', 1)")
    assert f.get("x") is None
    assert "Error compiling script" in error_of(f.execute_command, "INTERPRET", "LUA", "x =")
    # A failed INTERPRET leaves the globals as they were.
    f.execute_command("INTERPRET", "LUA", "function which() return 'first' end")
    error_of(f.execute_command, "INTERPRET", "LUA",
             "function which() return 'second' end\nerror('stop')")
    assert f.execute_command("LUAFUNC", "which") == b"first"
    # EVAL scripts and FUNCTION libraries do not see INTERPRET's globals.
    assert "nonexistent global variable 'which'" in error_of(f.eval, "return which()", 0)


def test_interpret_luafile_reads_only_allowed_places(server, f, tmp_path):
    data_dir = server.data_dir
    with open(os.path.join(data_dir, "procs.lua"), "w") as out:
        out.write("function from_file() return 'file' end\n")
    f.execute_command("INTERPRET", "LUAFILE", "procs.lua")
    assert f.execute_command("LUAFUNC", "from_file") == b"file"
    outside = tmp_path / "outside.lua"
    outside.write_text("function bad() return 'bad' end\n")
    os.symlink(outside, os.path.join(data_dir, "link.lua"))
    for path in ("../outside.lua", str(outside), "link.lua", "/etc/passwd", "missing.lua",
                 os.path.join(data_dir, "..", os.path.basename(data_dir), "procs.lua")):
        assert "reads files under lua/ or the data directory only" in \
            error_of(f.execute_command, "INTERPRET", "LUAFILE", path)
    assert "no function 'bad'" in error_of(f.execute_command, "LUAFUNC", "bad")


# -- persistence -------------------------------------------------------------------------

def make_server(tmp_path, appendonly: bool) -> ServerProcess:
    conf = tmp_path / "alchemy.conf"
    conf.write_text(f"appendonly {'yes' if appendonly else 'no'}\nsave \"\"\n")
    return ServerProcess(tmp_path / "data", "--config", str(conf), "--appendfsync", "always")


def load_everything(client: redis.Redis) -> None:
    client.function_load(HELLO)
    client.function_load(SETTER)
    client.function_load(library("gone", "redis.register_function('gone', function() "
                                         "return 1 end)"))
    client.function_delete("gone")
    client.execute_command("INTERPRET", "LUA", "function greet(n) return 'hi ' .. n end")
    client.execute_command("INTERPRET", "LUA", "function greet(n) return 'hey ' .. n end")
    assert client.fcall("setkey", 1, "k", "v") == b"OK"


def check_everything(client: redis.Redis) -> None:
    assert sorted(lib[1] for lib in client.function_list()) == [b"hello", b"setter"]
    assert client.fcall("hello", 0) == b"hello world"
    assert client.fcall_ro("getkey", 1, "k") == b"v"
    assert "Function not found" in error_of(client.fcall, "gone", 0)
    assert client.execute_command("LUAFUNC", "greet", "bo") == b"hey bo"


def test_functions_survive_kill9_through_the_log(tmp_path):
    proc = make_server(tmp_path, appendonly=True).start()
    try:
        load_everything(proc.client())
        proc.kill9()
        logged = (tmp_path / "data" / "appendonly.aof").read_bytes()
        # Library changes are logged as sent, a function's writes as their effects.
        assert b"FUNCTION" in logged and b"INTERPRET" in logged and b"FCALL" not in logged
        proc.start()
        check_everything(proc.client())
    finally:
        proc.stop()


def test_functions_survive_a_restart_through_the_snapshot(tmp_path):
    proc = make_server(tmp_path, appendonly=False).start()
    try:
        client = proc.client()
        load_everything(client)
        assert client.save()
        proc.kill9()
        proc.start()
        check_everything(proc.client())
    finally:
        proc.stop()


def test_functions_survive_a_log_rewrite(tmp_path):
    proc = make_server(tmp_path, appendonly=True).start()
    try:
        client = proc.client()
        load_everything(client)
        client.bgrewriteaof()
        deadline = time.time() + 20
        while client.info("persistence")["aof_rewrite_in_progress"]:
            assert time.time() < deadline
            time.sleep(0.05)
        client.function_load(library("later", "redis.register_function('later', "
                                              "function() return 'l' end)"))
        proc.kill9()
        proc.start()
        client = proc.client()
        assert client.fcall("later", 0) == b"l"
        client.function_delete("later")
        check_everything(client)
    finally:
        proc.stop()


def test_library_changes_are_refused_while_the_log_cannot_take_writes(tmp_path):
    import signal
    proc = make_server(tmp_path, appendonly=True).start()
    try:
        client = proc.client()
        client.function_load(HELLO)
        for _ in range(3):  # writers dying at once: the server stops retrying for a while
            pid = client.info("persistence")["aof_writer_pid"]
            os.kill(pid, signal.SIGKILL)
            deadline = time.time() + 5
            while client.info("persistence")["aof_writer_pid"] == pid:
                assert time.time() < deadline
                time.sleep(0.005)
        assert client.info("persistence")["aof_last_write_status"] == "err"
        for call in ([client.function_load, SETTER], [client.function_delete, "hello"],
                     [client.function_flush], [client.execute_command, "INTERPRET", "LUA",
                                               "function f() end"]):
            assert "AOF" in error_of(*call)
        assert client.fcall("hello", 0) == b"hello world"
        assert "Function not found" in error_of(client.fcall, "setkey", 1, "k", "v")
    finally:
        proc.stop()


@pytest.mark.parametrize("version", [2, 3])
def test_older_snapshot_versions_are_still_read(tmp_path, version):
    import struct
    import zlib
    from alchemy.keyspace import Keyspace
    from alchemy.persistence import snapshot
    path = str(tmp_path / "old.snapshot")
    dbs = [Keyspace(0, lambda db, key: None)]
    dbs[0].set(b"k", b"v")
    snapshot.write(dbs, path, snapshot.Origin(b"id", b"log", 0, 0))  # the server's SAVE:
    data = bytearray(open(path, "rb").read())                          # no M part
    at = len(snapshot.MAGIC)
    assert struct.unpack_from("<H", data, at)[0] == snapshot.VERSION
    struct.pack_into("<H", data, at, version)  # the same layout (version 2: no sections)
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    open(path, "wb").write(bytes(data))
    into = [Keyspace(0, lambda db, key: None)]
    origin = snapshot.read(path, into)
    assert into[0].get(b"k") == b"v" and origin.sections == {}


# -- the engine's API --------------------------------------------------------------------

def test_call_function_for_the_engine(db):
    db.execute("FUNCTION", "LOAD", library("fmt", """
redis.register_function('format_name', function(info)
  return info.fname .. ' ' .. string.upper(info.lname)
end)
redis.register_function('stats', function(values)
  local sum = 0
  for _, v in ipairs(values) do sum = sum + v end
  return {count = #values, sum = sum, mean = sum / #values, list = values}
end)
"""))
    db.execute("INTERPRET", "LUA", "function has_coupon(info, code) "
               "return info.coupons ~= nil and info.coupons[code] == true end")
    lua = db.lua
    assert lua.call_function("format_name", [{"fname": "Russ", "lname": "Smith"}]) \
        == "Russ SMITH"
    assert lua.call_function("stats", [[1, 2, 4.5]]) == {
        "count": 3, "sum": 7.5, "mean": 2.5, "list": [1, 2, 4.5]}
    assert lua.call_function("has_coupon", [{"coupons": {"XYZ": True}}, "XYZ"]) is True
    assert lua.call_function("has_coupon", [{}, "XYZ"]) is False
    assert lua.functions.has_function("FORMAT_NAME") and lua.functions.has_function("has_coupon")
    with pytest.raises(Exception, match="no Lua function 'nope'"):
        lua.call_function("nope", [])
    with pytest.raises(Exception, match="attempt to index"):
        lua.call_function("format_name", [None])

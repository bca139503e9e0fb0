"""Redis-compatible Lua scripting through redis-py: EVAL and friends, the conversion
rules, errors, the sandbox, the libraries, SCRIPT KILL of a busy script, effects in the
log, SQL from Lua."""

import hashlib
import os
import socket
import threading
import time

import pytest
import redis

from conftest import ServerProcess


def sha1(body: str) -> str:
    return hashlib.sha1(body.encode()).hexdigest()


# -- Lua -> reply ---------------------------------------------------------------------


@pytest.mark.parametrize("body, expected", [
    ("return 100.5", 100),
    ("return -3.9", -3),
    ("return 'hello'", b"hello"),
    ("return true", 1),
    ("return false", None),
    ("return nil", None),
    ("return {ok='fine'}", b"fine"),
    ("return {1, 2, 3, 'ciao', {1, 2}}", [1, 2, 3, b"ciao", [1, 2]]),
    ("return {1, 2, nil, 4}", [1, 2]),           # arrays stop at the first nil
    ("return {1, false, 3}", [1, None, 3]),
    ("return {a=1, b=2}", []),                   # no array part
    ("return {double=3.5}", b"3.5"),             # RESP2 client: a bulk string
    ("return _G", []),
    ("return redis.status_reply('x\\r\\ny')", b"x  y"),
])
def test_lua_to_resp2(r, body, expected):
    assert r.eval(body, 0) == expected


def test_error_table_is_an_error_reply(r):
    with pytest.raises(redis.ResponseError, match="^MY_CODE custom$"):
        r.eval("return {err='MY_CODE custom'}", 0)
    with pytest.raises(redis.ResponseError, match="^MY_ERR_CODE custom msg$"):
        r.eval("return redis.error_reply('MY_ERR_CODE custom msg')", 0)


def test_metatables_are_not_run_on_returned_tables(r):
    r.eval("local a = {}; setmetatable(a, {__index=function() redis.call('set','x','1') end})"
           " return a", 0)
    assert r.get("x") is None


def test_recursive_table_ends_with_an_error(r):
    reply = r.eval("local a = {}; local b = {a}; a[1] = b; return a", 0)
    depth = 0
    while isinstance(reply, list):
        reply, depth = reply[0], depth + 1
    assert isinstance(reply, redis.ResponseError) and depth > 10
    assert r.ping()


@pytest.mark.parametrize("body, expected", [
    ("return true", True),
    ("return false", False),
    ("return {double=3.5}", 3.5),
    ("return {map={a=1}}", {b"a": 1}),
])
def test_lua_to_resp3_after_setresp(r3, body, expected):
    assert r3.eval("redis.setresp(3); " + body, 0) == expected


def raw(server, *commands: bytes) -> bytes:
    """The bytes the server answers to requests sent as they are."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"".join(commands))
        sock.settimeout(5)
        time.sleep(0.2)
        return sock.recv(65536)


def resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


@pytest.mark.parametrize("body, resp3, resp2", [
    (b"return {set={a=true}}", b"~1\r\n$1\r\na\r\n", b"*1\r\n$1\r\na\r\n"),
    (b"return {big_number='12345678901234567890'}", b"(12345678901234567890\r\n",
     b"$20\r\n12345678901234567890\r\n"),
    (b"return {verbatim_string={format='txt', string='hi'}}", b"=6\r\ntxt:hi\r\n",
     b"$2\r\nhi\r\n"),
])
def test_resp3_types_on_the_wire(server, body, resp3, resp2):
    script = b"redis.setresp(3); " + body
    assert raw(server, resp(b"HELLO", b"3"), resp(b"EVAL", script, b"0")).endswith(resp3)
    assert raw(server, resp(b"EVAL", script, b"0")) == resp2


def test_resp2_script_replies_stay_resp2_for_resp3_clients(r3):
    r3.hset("h", "f", "v")
    assert r3.eval("return redis.call('hgetall', KEYS[1])", 1, "h") == [b"f", b"v"]
    assert r3.eval("redis.setresp(3); return redis.call('hgetall', KEYS[1])", 1, "h") == \
        {b"f": b"v"}


# -- reply -> Lua ---------------------------------------------------------------------


def test_replies_as_lua_values(r):
    r.set("s", "v")
    r.rpush("l", "a", "b", "c")
    script = """
        local n = redis.call('incr', 'n')
        local s = redis.call('get', 's')
        local missing = redis.call('get', 'missing')
        local st = redis.call('set', 'k', 'v')
        local l = redis.call('lrange', 'l', 0, -1)
        local e = redis.pcall('incr', 's')
        return {type(n), n, type(s), tostring(missing), st.ok, #l, l[3], e.err}
    """
    assert r.eval(script, 0) == [b"number", 1, b"string", b"false", b"OK", 3, b"c",
                                 b"ERR value is not an integer or out of range"]


def test_status_replies_are_fresh_tables(r):
    # Enough calls to go past a batch of prepared tables: each is new and unchanged.
    script = """
        local seen = {}
        for i = 1, 100 do
            local t = redis.call('set', KEYS[1], i)
            if seen[t] or t.ok ~= 'OK' or next(t, next(t)) ~= nil then return i end
            seen[t] = true
            t.ok = 'changed'
        end
        return 0
    """
    assert r.eval(script, 1, "k") == 0
    assert r.eval("local a = redis.call('set', 'k', 'v') a.ok = 'x' "
                  "return {a.ok, redis.call('set', 'k', 'v').ok}", 0) == [b"x", b"OK"]


def test_resp3_replies_as_lua_values(r):
    r.hset("h", "f", "v")
    script = """
        redis.setresp(3)
        local m = redis.call('hgetall', 'h')
        local missing = redis.call('get', 'missing')
        return {m.map.f, tostring(missing)}
    """
    assert r.eval(script, 0) == [b"v", b"nil"]


def test_numbers_keep_their_precision(r):
    assert r.eval("redis.call('set', KEYS[1], 9007199254740991) "
                  "return redis.call('get', KEYS[1])", 1, "k") == b"9007199254740991"
    assert r.eval("redis.call('set', KEYS[1], 0.1) return redis.call('get', KEYS[1])",
                  1, "k") == b"0.10000000000000001"


def test_keys_argv_and_the_callers_database(r):
    assert r.eval("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", 2, "a", "b", "c", "d") == \
        [b"a", b"b", b"c", b"d"]
    r.select(3)
    r.set("k", "db3")
    assert r.eval("return redis.call('get', 'k')", 0) == b"db3"
    r.eval("redis.call('select', 5)", 0)  # the script's own client, not the caller's
    assert r.get("k") == b"db3"
    r.select(0)


@pytest.mark.parametrize("numkeys, values", [
    (0, []), (0, ["a", "b"]), (1, ["a"]), (1, ["a", "b", "c"]), (3, ["a", "b", "c"]),
    (2, ["a", "b", "c", "d", "e"]),
])
def test_keys_and_argv_hold_exactly_their_values(r, numkeys, values):
    script = """
        local function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end
        KEYS[#KEYS + 1] = 'extra'
        return {#KEYS, count(KEYS), #ARGV, count(ARGV), table.concat(KEYS, ','),
                table.concat(ARGV, ',')}
    """
    keys, args = values[:numkeys], values[numkeys:]
    assert r.eval(script, numkeys, *values) == [
        numkeys + 1, numkeys + 1, len(args), len(args), ",".join(keys + ["extra"]).encode(),
        ",".join(args).encode()]


# -- call, pcall and errors -----------------------------------------------------------


def test_checks_still_apply_to_commands_called_before(r):
    # redis.call keeps what it learnt of a command by name: every check still runs.
    assert r.eval("redis.call('set', 'k', 'v') return redis.call('get', 'k')", 0) == b"v"
    assert r.eval("return redis.pcall('get', 'k', 'x').err", 0) == \
        b"ERR Wrong number of args calling Redis command from script"
    assert r.eval("return redis.pcall('GET', 'k')", 0) == b"v"
    with pytest.raises(redis.ResponseError, match="not allowed from read-only scripts"):
        r.eval_ro("return redis.call('set', 'k', 'w')", 0)
    for _ in range(2):
        assert r.eval("return redis.pcall('multi').err", 0) == \
            b"ERR This Redis command is not allowed from script"
    assert r.eval("return redis.call('command', 'count')", 0) == r.command_count()
    assert r.eval("return redis.pcall('command', 'nosuch').err", 0) == \
        b"ERR Unknown Redis command called from script"
    assert r.eval("return redis.pcall('client', 'id').err", 0) == \
        b"ERR This Redis command is not allowed from script"
    assert r.get("k") == b"v"


def test_call_raises_with_the_script_and_line(r):
    r.set("foo", "bar")
    body = "local x = 1\nredis.call('lpush', KEYS[1], 'val')"
    with pytest.raises(redis.ResponseError) as error:
        r.eval(body, 1, "foo")
    assert str(error.value) == ("WRONGTYPE Operation against a key holding the wrong kind "
                                f"of value script: {sha1(body)}, on @user_script:2.")


def test_pcall_returns_the_error(r):
    assert r.eval("local ok, e = pcall(redis.call, 'nosuchcommand'); return {tostring(ok), e}",
                  0) == [b"false", b"ERR Unknown Redis command called from script"]
    assert r.eval("return redis.pcall('nosuchcommand').err", 0) == \
        b"ERR Unknown Redis command called from script"


def test_a_tail_called_failure_keeps_the_line(r):
    body = "\n\nreturn redis.call('get', 'a', 'b')"
    with pytest.raises(redis.ResponseError, match="on @user_script:3.$"):
        r.eval(body, 0)


@pytest.mark.parametrize("body, message", [
    ("return redis.call()", "Please specify at least one argument"),
    ("return redis.call('nosuchcommand')", "Unknown Redis command called from script"),
    ("return redis.call('set', 'x')", "Wrong number of args calling Redis command from script"),
    ("return redis.call('blpop', 'x', 0)", "This Redis command is not allowed from script"),
    ("return redis.call('eval', 'return 1', 0)", "This Redis command is not allowed from script"),
    ("return redis.call('ping', {})", "Lua redis lib command arguments must be strings or "
                                      "integers"),
    ("return redis.sha1hex()", "wrong number of arguments"),
    ("redis.setresp(4)", "RESP version must be 2 or 3"),
    ("return a", "Script attempted to access nonexistent global variable 'a'"),
    ("error('boom')", "user_script:1: boom script: "),
])
def test_runtime_errors(r, body, message):
    with pytest.raises(redis.ResponseError, match="^(ERR )?.*" + message.replace("(", "\\(")):
        r.eval(body, 0)


@pytest.mark.parametrize("command", ["multi", "exec", "discard", "unwatch", "quit", "reset",
                                     "hello", "subscribe x", "watch x", "auth x"])
def test_connection_and_transaction_commands_are_refused(r, command):
    args = ", ".join(f"'{word}'" for word in command.split())
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        r.eval(f"return redis.call({args})", 0)


def test_set_sorted_without_by_is_ordered_for_scripts(r):
    r.sadd("s", *"qwertyuiop")
    assert r.eval("return redis.call('sort', KEYS[1], 'by', 'nosort')", 1, "s") == \
        sorted(c.encode() for c in "qwertyuiop")


def test_many_arguments_from_unpack(r):
    assert r.eval("local a = {} for i = 1, 7990 do a[i] = i end "
                  "return redis.call('rpush', KEYS[1], unpack(a))", 1, "l") == 7990
    with pytest.raises(redis.ResponseError, match="too many results to unpack"):
        r.eval("return {unpack({1, 2, 3}, -2, 2147483647)}", 0)
    assert r.eval("return {unpack({1, 2, 3}, 1, -1)}", 0) == []


def test_compile_error(r):
    with pytest.raises(redis.ResponseError) as error:
        r.eval("return x +", 0)
    assert str(error.value) == ("Error compiling script (new function): user_script:1: "
                                "unexpected symbol near '<eof>'")


def test_number_of_keys(r):
    with pytest.raises(redis.ResponseError, match="Number of keys can't be negative"):
        r.eval("return 1", -1)
    with pytest.raises(redis.ResponseError, match="greater than number of args"):
        r.eval("return 1", 2, "a")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.execute_command("EVAL", "return 1", "x")


def test_eval_ro_refuses_writes(r):
    r.set("foo", "bar")
    assert r.eval_ro("return redis.call('get', KEYS[1])", 1, "foo") == b"bar"
    with pytest.raises(redis.ResponseError,
                       match="Write commands are not allowed from read-only scripts"):
        r.eval_ro("redis.call('del', KEYS[1])", 1, "foo")
    assert r.get("foo") == b"bar"
    with pytest.raises(redis.ResponseError, match="not allowed from read-only"):
        r.eval("#!lua flags=no-writes\nredis.call('set', 'x', 1)", 0)
    sha = r.script_load("return redis.call('get', KEYS[1])")
    assert r.evalsha_ro(sha, 1, "foo") == b"bar"


def test_shebang(r):
    assert r.eval("#!lua\nreturn 1", 0) == 1
    with pytest.raises(redis.ResponseError, match="Unexpected engine in script shebang"):
        r.eval("#!python\nreturn 1", 0)
    with pytest.raises(redis.ResponseError, match="Unexpected flag in script shebang: what"):
        r.eval("#!lua flags=allow-oom,what\nreturn 1", 0)
    with pytest.raises(redis.ResponseError, match="Can not execute a script with write flag"):
        r.eval_ro("#!lua\nreturn 1", 0)


# -- the script cache -----------------------------------------------------------------


def test_script_cache(r):
    body = "return 'loaded'"
    assert r.script_load(body) == sha1(body)
    assert r.evalsha(sha1(body), 0) == b"loaded"
    assert r.evalsha(sha1(body).upper(), 0) == b"loaded"
    assert r.script_exists(sha1(body), "0" * 40) == [True, False]
    r.eval("return 2", 0)
    assert r.script_exists(sha1("return 2")) == [True]
    assert "number_of_cached_scripts:2" in r.execute_command("INFO", "memory").decode() \
        if isinstance(r.execute_command("INFO", "memory"), bytes) else True
    assert r.script_flush() is True
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha(sha1(body), 0)
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha("not a sha", 0)
    with pytest.raises(redis.ResponseError, match="SCRIPT FLUSH only support"):
        r.execute_command("SCRIPT", "FLUSH", "NOW")
    with pytest.raises(redis.ResponseError, match="NOTBUSY"):
        r.script_kill()


def test_info_counts_cached_scripts(r):
    r.script_flush()
    for i in range(3):
        r.script_load(f"return {i}")
    assert r.info("memory")["number_of_cached_scripts"] == 3


@pytest.mark.parametrize("body, code", [
    ("return redis.call('select', 99)", "ERR"),              # raised on by the script
    ("return redis.pcall('select', 99)", "ERR"),             # returned as it came
    ("local t = redis.pcall('lpush', KEYS[1], 1) return t", "WRONGTYPE"),
    ("return redis.call('nosuchcmd')", "ERR"),               # refused before running
    ("return redis.error_reply('MY_CODE custom')", "MY_CODE"),  # the script's own
    ("return redis.error_reply('')", "ERR"),
    ("error({err='OWN raised'})", "OWN"),
])
def test_script_errors_counted_once(r, body, code):
    r.set("str", "x")
    r.config_resetstat()
    with pytest.raises(redis.ResponseError):
        r.eval(body, 1, "str")
    assert r.info("errorstats") == {f"errorstat_{code}": {"count": 1}}
    assert r.info("stats")["total_error_replies"] == 1


def test_script_error_caught_by_the_script_still_counted(r):
    r.config_resetstat()
    assert r.eval("local t = redis.pcall('select', 99) return t['err']", 0) == \
        b"ERR DB index is out of range"
    assert r.info("errorstats") == {"errorstat_ERR": {"count": 1}}
    assert r.execute_command("INFO", "commandstats")["cmdstat_eval"]["failed_calls"] == 0


# -- the sandbox ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["os", "io", "require", "loadfile", "dofile", "debug",
                                  "package", "python", "print", "module", "getfenv",
                                  "setfenv", "newproxy"])
def test_missing_globals(r, name):
    with pytest.raises(redis.ResponseError,
                       match=f"Script attempted to access nonexistent global variable "
                             f"'{name}'"):
        r.eval(f"return {name}", 0)


@pytest.mark.parametrize("body", [
    "a = 10",
    "redis = function() return 1 end",
    "_G = {}",
    "redis.call = function() return 1 end",
    "cjson.encode = function() return 1 end",
    "bit.lshift = function() return 1 end",
    "string.rep = nil",
    "setmetatable(_G, {})",
    "local g = getmetatable(_G); g.__index = {}",
    "getmetatable('').__index = function() return 1 end",
    "rawset(_G, 'x', 1)",
    "rawset(redis, 'call', 1)",
])
def test_readonly_tables(r, body):
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        r.eval(body, 0)


@pytest.mark.parametrize("body", [
    "return loadstring('return os')()",
    "return loadstring('return debug')()",
    "local done = false; return load(function() if done then return nil end "
    "done = true; return 'return os' end)()",
    "local f = loadstring('x = 1'); f()",
    "return getmetatable('').__index.rep.__call",
])
def test_loaded_code_stays_in_the_sandbox(r, body):
    with pytest.raises(redis.ResponseError):
        r.eval(body, 0)


def test_binary_chunks_are_refused(r):
    with pytest.raises(redis.ResponseError, match="attempt to call a nil value"):
        r.eval("return loadstring(string.dump(function() return 1 end))()", 0)


def test_python_objects_are_not_reachable(r):
    # The error redis.call raises is a Python object inside; scripts only see its text.
    assert r.eval("local ok, e = pcall(redis.call, 'x'); return type(e)", 0) == b"string"
    assert r.eval("local ok, e = xpcall(function() redis.call('x') end, "
                  "function(e) return type(e) .. ' ' .. e.err end); return e", 0) == \
        b"table ERR Unknown Redis command called from script"
    assert r.eval("local co = coroutine.create(function() redis.call('x') end) "
                  "local ok, e = coroutine.resume(co) return type(e)", 0) == b"table"


def test_globals_do_not_leak_between_scripts(r):
    with pytest.raises(redis.ResponseError):
        r.eval("x = 1", 0)
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'x'"):
        r.eval("return x", 0)


# -- libraries -------------------------------------------------------------------------


def test_cjson(r):
    assert r.eval("return cjson.encode({1, 2, 'a/b'})", 0) == b'[1,2,"a\\/b"]'
    assert r.eval("return cjson.encode({k={true, false}})", 0) == b'{"k":[true,false]}'
    assert r.eval("local t = cjson.decode('{\"a\": [1, 2.5, null]}') "
                  "return {t.a[1], tostring(t.a[2]), tostring(t.a[3] == cjson.null)}", 0) == \
        [1, b"2.5", b"true"]
    with pytest.raises(redis.ResponseError):
        r.eval("return cjson.decode('{bad')", 0)


def test_cmsgpack(r):
    script = ("local e = cmsgpack.pack(%s) local h = '' for i = 1, #e do "
              "h = h .. string.format('%%02x', string.byte(e, i)) end return h")
    assert r.eval(script % "0.1", 0) == b"cb3fb999999999999a"
    assert r.eval(script % "-1099511627776", 0) == b"d3ffffff0000000000"
    assert r.eval("local t = cmsgpack.unpack(cmsgpack.pack({1, 2, {a='x'}})) "
                  "return {t[1], t[2], t[3].a}", 0) == [1, 2, b"x"]


def test_bit(r):
    assert r.eval("return {bit.band(7, 3), bit.bor(1, 2, 4), bit.bxor(1, 3), bit.bnot(0), "
                  "bit.lshift(1, 4), bit.rshift(-1, 28), bit.arshift(-16, 2)}", 0) == \
        [3, 7, 2, -1, 16, 15, -4]
    assert r.eval("return bit.tohex(65535, -2147483648)", 0) == b"0000FFFF"


def test_struct(r):
    assert r.eval("local s = struct.pack('>I2i4', 258, -1) "
                  "local a, b, nxt = struct.unpack('>I2i4', s) "
                  "return {#s, a, b, nxt, struct.size('>I2i4')}", 0) == [6, 258, -1, 7, 6]


def test_sha1hex_and_version(r):
    assert r.eval("return redis.sha1hex('Pizza & Mandolino')", 0) == \
        b"74822d82031af7493c20eefa13bd07ec4fada82f"
    assert r.eval("return redis.REDIS_VERSION", 0) == b"7.0.15"


# -- SQL from Lua ---------------------------------------------------------------------


def test_sql_from_lua(r):
    r.execute_command("CREATE TABLE users (id INT PRIMARY KEY, name TEXT, age INT)")
    r.eval("redis.call('INSERT', 'INTO', 'users', 'VALUES', \"(1, 'ann', 30)\")", 0)
    assert r.eval("return alchemy.sql('INSERT INTO users VALUES (?, ?, ?)', 2, 'bob', 25)",
                  0) == 1
    assert r.eval("return redis.call('SELECT', '*', 'FROM', 'users', 'WHERE', 'id = 1')",
                  0) == [[b"id", b"name", b"age"], [1, b"ann", 30]]
    assert r.eval("local rows = alchemy.sql('SELECT name, age FROM users WHERE id = ?', 2) "
                  "return {#rows, rows[1].name, rows[1].age}", 0) == [1, b"bob", 25]
    assert r.eval_ro("return #alchemy.sql('SELECT * FROM users')", 0) == 2
    with pytest.raises(redis.ResponseError, match="not allowed from read-only"):
        r.eval_ro("return alchemy.sql('DELETE FROM users')", 0)
    with pytest.raises(redis.ResponseError, match="^no such table 'nosuch' script: .*:1.$"):
        r.eval("return alchemy.sql('SELECT * FROM nosuch')", 0)


def test_documents_from_sql_are_lua_tables(r):
    r.execute_command("SQL", "CREATE TABLE people (id INT PRIMARY KEY, info LUATABLE)")
    r.execute_command("SQL", "INSERT INTO people VALUES (1, {fname='RUSS', tags={'a','b'}})")
    assert r.eval("local info = alchemy.sql('SELECT info FROM people WHERE id = 1')[1].info "
                  "return {type(info), info.fname, info.tags[2]}", 0) == \
        [b"table", b"RUSS", b"b"]


# -- a script past its time limit -----------------------------------------------------


def _run_in_thread(target, *args):
    result = {}

    def run():
        try:
            result["value"] = target(*args)
        except Exception as e:  # the reply of the killed script
            result["error"] = e
    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _wait_busy(client) -> None:
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            client.ping()
        except redis.exceptions.BusyLoadingError:
            raise
        except redis.ResponseError as e:
            if str(e).startswith("BUSY"):
                return
            raise
        time.sleep(0.02)
    raise AssertionError("the server never answered BUSY")


def test_script_kill_stops_a_busy_script(server):
    runner, other = server.client(), server.client()
    other.config_set("lua-time-limit", 50)
    try:
        thread, result = _run_in_thread(runner.eval, "while true do end", 0)
        _wait_busy(other)
        with pytest.raises(redis.ResponseError, match="^BUSY Redis is busy running a script"):
            other.get("x")
        assert other.script_kill() is True
        thread.join(10)
        assert "killed by user" in str(result["error"])
        assert other.ping() and runner.ping()
    finally:
        other.config_set("lua-time-limit", 5000)


def test_a_client_connecting_during_a_busy_script_can_kill_it(server):
    """As in Redis, a connection made while a script runs past its time limit is answered
    at once: the usual way out is a new redis-cli sending SCRIPT KILL."""
    runner, other = server.client(), server.client()
    other.config_set("lua-time-limit", 50)
    try:
        thread, result = _run_in_thread(runner.eval, "while true do end", 0)
        _wait_busy(other)
        late = server.client(socket_timeout=5)
        with pytest.raises(redis.ResponseError, match="^BUSY Redis is busy running a script"):
            late.get("x")
        assert late.script_kill() is True
        thread.join(10)
        assert "killed by user" in str(result["error"])
        assert late.ping() and late.set("after", 1) and other.get("after") == b"1"
        ids = [c["id"] for c in other.client_list()]
        assert ids.count(str(late.client_id())) == 1  # one client, made when it connected
    finally:
        other.config_set("lua-time-limit", 5000)


def test_exec_refused_by_a_busy_script_ends_the_transaction(server):
    runner, other = server.client(), server.client()
    queued = server.client(single_connection_client=True)
    other.config_set("lua-time-limit", 50)
    try:
        other.set("xx", 1)
        queued.execute_command("MULTI")
        queued.execute_command("INCR", "xx")
        thread, result = _run_in_thread(runner.eval, "while true do end", 0)
        _wait_busy(other)
        with pytest.raises(redis.exceptions.ExecAbortError,  # -EXECABORT, code cut off
                           match="^Transaction discarded because of: BUSY Redis is busy"):
            queued.execute_command("EXEC")
        other.script_kill()
        thread.join(10)
        assert queued.echo("out of MULTI") == b"out of MULTI"  # not QUEUED
        assert other.get("xx") == b"1"
    finally:
        other.config_set("lua-time-limit", 5000)


def test_kill_cannot_be_caught_by_pcall(server):
    runner, other = server.client(), server.client()
    other.config_set("lua-time-limit", 50)
    try:
        thread, result = _run_in_thread(
            runner.eval, "local f = function() while 1 do redis.call('ping') end end "
                         "while 1 do pcall(f) end", 0)
        _wait_busy(other)
        other.script_kill()
        thread.join(10)
        assert "killed by user" in str(result["error"])
    finally:
        other.config_set("lua-time-limit", 5000)


def test_pipelined_requests_after_a_killed_script(server):
    other = server.client()
    other.config_set("lua-time-limit", 50)
    try:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"*3\r\n$4\r\neval\r\n$18\r\nwhile 1 do end end\r\n$1\r\n0\r\n")
        sock.sendall(b"*3\r\n$4\r\neval\r\n$33\r\nwhile 1 do redis.call('ping') end\r\n"
                     b"$1\r\n0\r\n*1\r\n$4\r\nping\r\n")
        _wait_busy(other)
        other.script_kill()
        received = b""
        sock.settimeout(10)
        while b"+PONG" not in received:
            received += sock.recv(4096)
        assert received.startswith(b"-ERR Error compiling script")  # the first request
        assert b"killed by user" in received and received.endswith(b"+PONG\r\n")
        sock.close()
    finally:
        other.config_set("lua-time-limit", 5000)


def test_a_script_that_wrote_cannot_be_killed(tmp_path):
    proc = ServerProcess(tmp_path).start()
    try:
        runner, other = proc.client(), proc.client()
        other.config_set("lua-time-limit", 50)
        _run_in_thread(runner.eval, "redis.call('set', KEYS[1], 'y'); while true do end", 1, "x")
        _wait_busy(other)
        with pytest.raises(redis.ResponseError, match="^UNKILLABLE"):
            other.script_kill()
        with pytest.raises(redis.ResponseError, match="^BUSY"):
            other.ping()
        try:
            other.shutdown(nosave=True)
        except redis.ConnectionError:
            pass
        assert proc.proc.wait(10) == 0
    finally:
        proc.stop()


# -- effects in the log ---------------------------------------------------------------


def test_effects_are_logged_not_scripts(tmp_path):
    conf = tmp_path / "alchemy.conf"
    conf.write_text("appendonly yes\nsave \"\"\n")
    proc = ServerProcess(tmp_path / "data", "--config", str(conf), "--appendfsync", "always")
    proc.start()
    try:
        r = proc.client()
        r.eval("redis.call('set', 'r', tostring(math.random())) "
               "redis.call('incr', 'n') redis.call('select', 2) redis.call('set', 'd2', 'x') "
               "redis.call('expire', 'd2', 1000)", 0)
        sha = r.script_load("return redis.call('incr', KEYS[1])")
        assert r.evalsha(sha, 1, "n") == 2
        random_value = r.get("r")
        r.eval("return redis.call('get', 'r')", 0)  # reads log nothing
        r.execute_command("CREATE TABLE t (id INT PRIMARY KEY, name TEXT)")
        r.eval("alchemy.sql('INSERT INTO t VALUES (?, ?)', 7, ARGV[1])", 0, "from lua")
        proc.stop()
        logged = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
        assert b"math.random" not in logged and b"EVAL" not in logged.upper()
        proc.start()
        r = proc.client()
        assert r.get("r") == random_value and r.get("n") == b"2"
        assert r.execute_command("SQL", "SELECT name FROM t WHERE id = 7") == \
            [[b"name"], [b"from lua"]]
        r.select(2)
        assert r.get("d2") == b"x" and 0 < r.ttl("d2") <= 1000
    finally:
        proc.stop()


def test_a_failing_script_keeps_its_earlier_writes(r):
    with pytest.raises(redis.ResponseError):
        r.eval("redis.call('incr', KEYS[1]); redis.call('nonexisting')", 1, "x")
    assert r.get("x") == b"1"


def test_scripts_are_atomic_for_watch(r):
    other_client = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    pipe = r.pipeline()
    pipe.watch("w")
    other_client.eval("redis.call('set', KEYS[1], 'changed')", 1, "w")
    pipe.multi()
    pipe.set("w", "mine")
    with pytest.raises(redis.WatchError):
        pipe.execute()
    assert r.get("w") == b"changed"
    other_client.close()


def test_blocked_client_is_served_after_the_script(server, r):
    waiter = server.client()
    thread, result = _run_in_thread(waiter.brpop, "a", 5)
    time.sleep(0.2)
    r.eval("redis.call('lpush', KEYS[1], '1'); redis.call('lpush', KEYS[1], '2')", 1, "a")
    thread.join(10)
    assert result["value"] == (b"a", b"1")


def test_memory_of_many_evals_stays_small(r):
    r.script_flush()
    for _ in range(2000):
        r.eval("return redis.call('incr', KEYS[1])", 1, "x")
    assert r.info("memory")["used_memory_lua"] < 1024 * 200
    assert os.getpid()  # the test process itself is untouched

"""Lua inside SQL: functions (FUNCTION LOAD, INTERPRET) called from SELECT lists, WHERE
clauses and UPDATE SET; LUATRIGGERs on INSERT, UPDATE and DELETE writing through
redis.call, their errors, and their survival (and exactly-once effects) across restarts.
Through redis-py against a real server, and the in-process Database."""

import json
import time

import pytest
import redis

import alchemy

from conftest import ServerProcess

LIBRARY = """#!lua name=sqlfns
redis.register_function('format_name', function(info)
  return info.fname .. ' ' .. string.upper(info.lname)
end)
redis.register_function('double', function(x) return x * 2 end)
redis.register_function('boom', function(x)
  if x == 2 then error('no twos here') end
  return x
end)
redis.register_function('writer', function(x) return redis.call('SET', 'k', x) end)
redis.register_function('reader', function(key) return redis.call('GET', key) end)
redis.register_function('profile', function(n) return {level = n, tags = {'a', 'b'}} end)
redis.register_function('flag', function(x) return x > 5 end)
"""

TRIGGERS = """#!lua name=trig
redis.register_function('on_insert', function(id, info)
  redis.call('INCR', 'users:count')
  redis.call('HSET', 'user:' .. id, 'fname', info.fname)
end)
redis.register_function('on_update', function(id, old_n, n)
  redis.call('RPUSH', 'changes', id .. ':' .. tostring(old_n) .. '->' .. tostring(n))
end)
redis.register_function('on_delete', function(id)
  redis.call('DECR', 'users:count')
  redis.call('DEL', 'user:' .. id)
end)
redis.register_function('refuse_13', function(id)
  redis.call('INCR', 'attempts')
  if id == 13 then error('13 is unlucky') end
end)
"""

COUPON = ("function has_coupon(info, code) "
          "return info.coupons ~= nil and info.coupons[code] == true end")


def sql(client, statement, *params):
    return client.execute_command("SQL", statement, *params)


def error_of(call, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        call(*args)
    return str(info.value)


@pytest.fixture
def users(r):
    r.function_load(LIBRARY, replace=True)
    r.execute_command("INTERPRET", "LUA", COUPON)
    sql(r, "CREATE TABLE users (id INT PRIMARY KEY, info LUATABLE, n INT)")
    sql(r, "INSERT INTO users VALUES "
           "(1, {fname='Russ', lname='Smith', coupons={XYZ123=true}}, 5), "
           "(2, {fname='Jim', lname='Jones'}, 6), "
           "(3, {fname='Ann', lname='Lee', coupons={XYZ123=true}}, 7), "
           "(12, {fname='Bo', lname='Ek', coupons={XYZ123=true}}, 8)")
    return r


def rows_of(client, statement):
    return sql(client, statement)[1:]


# -- functions in expressions --------------------------------------------------------------


def test_function_in_the_select_list(users):
    assert sql(users, "SELECT format_name(info) FROM users WHERE id = 1") == \
        [[b"format_name(info)"], [b"Russ SMITH"]]
    assert rows_of(users, "SELECT id, double(n) AS d FROM users ORDER BY d DESC LIMIT 2") == \
        [[12, 16], [3, 14]]


def test_interpret_function_filters_rows(users):
    assert rows_of(users, "SELECT id FROM users WHERE id BETWEEN 1 AND 9 "
                          "AND has_coupon(info, 'XYZ123') ORDER BY id") == [[1], [3]]
    assert rows_of(users, "SELECT id FROM users WHERE has_coupon(info, 'NOPE')") == []
    explained = [line[0] for line in sql(users, "EXPLAIN SELECT id FROM users WHERE id "
                                                "BETWEEN 1 AND 9 AND has_coupon(info, 'X')")]
    assert any(b"calling Lua: has_coupon" in line for line in explained)


def test_update_set_from_a_function(users):
    assert sql(users, "UPDATE users SET n = double(n) WHERE id <= 3") == 3
    assert rows_of(users, "SELECT id, n FROM users ORDER BY id") == \
        [[1, 10], [2, 12], [3, 14], [12, 8]]
    # A table returned into a LUATABLE column is a document.
    assert sql(users, "UPDATE users SET info = profile(n) WHERE id = 2") == 1
    assert json.loads(rows_of(users, "SELECT info FROM users WHERE id = 2")[0][0]) == \
        {"level": 12, "tags": ["a", "b"]}
    assert rows_of(users, "SELECT info.level FROM users WHERE id = 2") == [[12]]


def test_table_results_are_documents_and_booleans_numbers(server, users):
    assert json.loads(rows_of(users, "SELECT profile(1) FROM users WHERE id = 1")[0][0]) == \
        {"level": 1, "tags": ["a", "b"]}
    r3 = server.client(protocol=3)
    assert r3.execute_command("SQL", "SELECT profile(2) FROM users WHERE id = 1")[1] == \
        [{b"level": 2, b"tags": [b"a", b"b"]}]
    assert rows_of(users, "SELECT id, flag(n) FROM users WHERE id < 3 ORDER BY id") == \
        [[1, 0], [2, 1]]
    assert "is not INT" in error_of(sql, users, "UPDATE users SET n = profile(n)")
    assert rows_of(users, "SELECT n FROM users WHERE id = 1") == [[5]]


def test_function_may_read_keys_but_not_write(users):
    users.set("greeting", "hello")
    assert rows_of(users, "SELECT reader('greeting') FROM users WHERE id = 1") == [[b"hello"]]
    message = error_of(sql, users, "SELECT writer(id) FROM users WHERE id = 1")
    assert "writer" in message and "Write commands are not allowed" in message
    assert users.get("k") is None


def test_unknown_function_and_lua_errors(users):
    assert "no such function: nosuch" in error_of(sql, users, "SELECT nosuch(id) FROM users")
    message = error_of(sql, users, "SELECT boom(id) FROM users")
    assert "boom" in message and "no twos here" in message
    # An UPDATE failing on its second row leaves every row as it was.
    assert "no twos here" in error_of(sql, users, "UPDATE users SET n = boom(id) + 100")
    assert "no twos here" in error_of(sql, users, "INSERT INTO users VALUES "
                                                  "(20, NULL, boom(1)), (21, NULL, boom(2))")
    assert rows_of(users, "SELECT id, n FROM users ORDER BY id") == \
        [[1, 5], [2, 6], [3, 7], [12, 8]]


def test_plan_cached_before_the_function_exists(users):
    statement = "SELECT later(n) FROM users WHERE id = 1"
    assert "no such function: later" in error_of(sql, users, statement)
    users.execute_command("INTERPRET", "LUA", "function later(n) return n + 1 end")
    assert rows_of(users, statement) == [[6]]


def test_plans_are_shared_across_literals(db):
    db.execute("FUNCTION", "LOAD", LIBRARY)
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, n INT)")
    db.sql("INSERT INTO t VALUES (1, 10), (2, 20)")
    assert db.sql("SELECT double(n) + 1 FROM t WHERE id = 1") == [(21,)]
    misses = db.sql_engine.misses
    assert db.sql("SELECT double(n) + 5 FROM t WHERE id = 2") == [(45,)]
    assert db.sql("SELECT id FROM t WHERE double(n) > ?", 30) == [(2,)]
    assert db.sql("SELECT id FROM t WHERE double(n) > ?", 10) == [(1,), (2,)]
    assert db.sql_engine.misses == misses + 1  # the `?` shape once, the literal shape reused


def test_functions_in_joins_and_aggregates(db):
    db.execute("FUNCTION", "LOAD", LIBRARY)
    db.sql("CREATE TABLE u (id INT PRIMARY KEY, kind TEXT)")
    db.sql("CREATE TABLE o (id INT PRIMARY KEY, uid INT, amount INT)")
    db.sql("INSERT INTO u VALUES (1, 'a'), (2, 'b')")
    db.sql("INSERT INTO o VALUES (1, 1, 10), (2, 1, 20), (3, 2, 5)")
    assert db.sql("SELECT u.id, double(o.amount) FROM u JOIN o ON o.uid = u.id "
                  "WHERE double(o.amount) > 15 ORDER BY 2") == [(1, 20), (1, 40)]
    assert db.sql("SELECT kind, SUM(double(amount)) FROM u JOIN o ON o.uid = u.id "
                  "GROUP BY kind ORDER BY kind") == [("a", 60), ("b", 10)]
    assert db.sql("DELETE FROM o WHERE double(amount) = 10") == 1


def test_words_from_redis_cli(server, users):
    out = server.cli("SELECT", "format_name(info)", "FROM", "users", "WHERE", "id = 1")
    assert "Russ SMITH" in out
    out = server.cli("SELECT", "id", "FROM", "users", "WHERE",
                     "id BETWEEN 2 AND 20 AND has_coupon(info, 'XYZ123')")
    assert out.split() == ["id", "3", "12"]


def test_called_from_inside_a_running_function(db):
    db.execute("FUNCTION", "LOAD", LIBRARY)
    db.execute("FUNCTION", "LOAD", TRIGGERS)
    db.execute("FUNCTION", "LOAD", "#!lua name=via\nredis.register_function('via_sql', "
               "function(keys, args) return redis.call('SQL', args[1]) end)")
    db.sql("CREATE TABLE users (id INT PRIMARY KEY, info LUATABLE, n INT)")
    db.sql("CREATE LUATRIGGER ins ON users INSERT on_insert(id, info)")
    db.execute("FCALL", "via_sql", 0, "INSERT INTO users VALUES (1, {fname='F'}, 2)")
    assert db.execute("GET", "users:count") == b"1"  # the trigger may write: FCALL may
    assert db.execute("FCALL", "via_sql", 0, "SELECT double(n) FROM users") == \
        [[b"double(n)"], [4]]
    with pytest.raises(alchemy.AlchemyError, match="Write commands are not allowed"):
        db.execute("FCALL", "via_sql", 0, "SELECT writer(id) FROM users")
    assert db.execute("GET", "k") is None


# -- triggers ------------------------------------------------------------------------------


def create_triggers(client):
    client.function_load(TRIGGERS, replace=True)
    sql(client, "CREATE TABLE users (id INT PRIMARY KEY, info LUATABLE, n INT)")
    # The call quoted inside the statement, and as words (AlchemyDB clients' spelling).
    sql(client, "CREATE LUATRIGGER users_ins ON users INSERT \"on_insert(id, info)\"")
    client.execute_command("CREATE", "LUATRIGGER", "users_upd", "ON", "users", "UPDATE",
                           "on_update(id, old.n, n)")
    sql(client, "CREATE LUATRIGGER users_del ON users DELETE 'on_delete(id)'")
    sql(client, "CREATE LUATRIGGER users_13 ON users INSERT refuse_13(id)")


def test_triggers_on_each_event_write_keys(r):
    create_triggers(r)
    assert rows_of(r, "SHOW TRIGGERS") == [
        [b"users_ins", b"users", b"INSERT", b"on_insert(id, info)"],
        [b"users_upd", b"users", b"UPDATE", b"on_update(id, old.n, n)"],
        [b"users_del", b"users", b"DELETE", b"on_delete(id)"],
        [b"users_13", b"users", b"INSERT", b"refuse_13(id)"]]
    sql(r, "INSERT INTO users VALUES (1, {fname='Russ'}, 1), (2, {fname='Jim'}, 2)")
    assert r.get("users:count") == b"2"
    assert r.hgetall("user:2") == {b"fname": b"Jim"}
    assert sql(r, "UPDATE users SET n = n + 10 WHERE id <= 2") == 2
    assert sql(r, "UPDATE users SET n = n WHERE id = 1") == 1  # nothing changed: no call
    assert r.lrange("changes", 0, -1) == [b"1:1->11", b"2:2->12"]
    assert sql(r, "DELETE FROM users WHERE id = 1") == 1
    assert r.get("users:count") == b"1" and not r.exists("user:1")
    # REPLACE over a row is a DELETE and an INSERT.
    sql(r, "REPLACE INTO users VALUES (2, {fname='James'}, 3)")
    assert r.get("users:count") == b"1"
    assert r.hgetall("user:2") == {b"fname": b"James"}
    assert r.get("attempts") == b"3"


def test_failing_trigger_aborts_a_multi_row_insert(r):
    create_triggers(r)
    message = error_of(sql, r, "INSERT INTO users VALUES (11, {fname='a'}, 1), "
                               "(12, {fname='b'}, 1), (13, {fname='c'}, 1), (14, {fname='d'}, 1)")
    assert "users_13" in message and "13 is unlucky" in message
    assert rows_of(r, "SELECT COUNT(*) FROM users") == [[0]]
    # What the triggers wrote through redis.call for rows 11-13 is put back too.
    assert r.get("attempts") is None and r.get("users:count") is None
    assert r.keys("user:*") == []


def test_failing_triggers_on_update_and_delete_undo_the_rows(r):
    r.function_load(replace=True, code="#!lua name=strict\n"
                    "redis.register_function('no_big', function(n) "
                    "if n > 100 then error('too big') end end)\n"
                    "redis.register_function('keep_2', function(id) "
                    "if id == 2 then error('keep 2') end end)")
    sql(r, "CREATE TABLE t (id INT PRIMARY KEY, n INT)")
    sql(r, "INSERT INTO t VALUES (1, 10), (2, 99), (3, 5)")
    sql(r, "CREATE LUATRIGGER t_upd ON t UPDATE no_big(n)")
    sql(r, "CREATE LUATRIGGER t_del ON t DELETE keep_2(id)")
    assert "too big" in error_of(sql, r, "UPDATE t SET n = n + 5")
    assert "keep 2" in error_of(sql, r, "DELETE FROM t")
    assert rows_of(r, "SELECT id, n FROM t ORDER BY id") == [[1, 10], [2, 99], [3, 5]]


def test_failing_statement_puts_back_keys_its_triggers_wrote(r):
    r.function_load(replace=True, code="#!lua name=undo\n"
                    "redis.register_function('track', function(id) "
                    "redis.call('SET', 'last', id); redis.call('RPUSH', 'seen', id); "
                    "redis.call('EXPIRE', 'temp', 100); redis.call('DEL', 'gone'); "
                    "if id == 3 then error('no 3') end end)")
    r.set("last", "before")
    r.rpush("seen", "x")
    r.set("temp", "t", ex=1000)
    r.hset("gone", "f", "v")
    sql(r, "CREATE TABLE u (id INT PRIMARY KEY)")
    sql(r, "CREATE LUATRIGGER u_ins ON u INSERT track(id)")
    assert "no 3" in error_of(sql, r, "INSERT INTO u VALUES (1), (2), (3)")
    assert r.get("last") == b"before" and r.lrange("seen", 0, -1) == [b"x"]
    assert 100 < r.ttl("temp") <= 1000 and r.hgetall("gone") == {b"f": b"v"}
    assert rows_of(r, "SELECT COUNT(*) FROM u") == [[0]]
    sql(r, "INSERT INTO u VALUES (1), (2)")  # a statement that succeeds keeps its writes
    assert r.get("last") == b"2" and r.lrange("seen", 0, -1) == [b"x", b"1", b"2"]


def test_failing_statement_takes_back_rows_its_triggers_wrote_in_other_tables(r):
    r.function_load(replace=True, code="#!lua name=audit\n"
                    "redis.register_function('audit', function(id) "
                    "redis.call('SQL', 'INSERT INTO audit VALUES (' .. id .. ')'); "
                    "redis.call('SQL', 'UPDATE counts SET n = n + 1 WHERE id = 1'); "
                    "redis.call('SQL', 'DELETE FROM spare WHERE id = ' .. id); "
                    "if id == 3 then error('no 3') end end)")
    sql(r, "CREATE TABLE audit (id INT PRIMARY KEY)")
    sql(r, "CREATE TABLE counts (id INT PRIMARY KEY, n INT)")
    sql(r, "CREATE TABLE spare (id INT PRIMARY KEY)")
    sql(r, "INSERT INTO counts VALUES (1, 0)")
    sql(r, "INSERT INTO spare VALUES (1), (2), (3), (4)")
    sql(r, "CREATE TABLE v (id INT PRIMARY KEY)")
    sql(r, "CREATE LUATRIGGER v_ins ON v INSERT audit(id)")
    assert "no 3" in error_of(sql, r, "INSERT INTO v VALUES (1), (2), (3)")
    assert rows_of(r, "SELECT COUNT(*) FROM v") == [[0]]
    assert rows_of(r, "SELECT COUNT(*) FROM audit") == [[0]]
    assert rows_of(r, "SELECT n FROM counts") == [[0]]
    assert rows_of(r, "SELECT id FROM spare ORDER BY id") == [[1], [2], [3], [4]]
    sql(r, "INSERT INTO v VALUES (1), (2)")  # a statement that succeeds keeps its writes
    assert rows_of(r, "SELECT id FROM audit ORDER BY id") == [[1], [2]]
    assert rows_of(r, "SELECT n FROM counts") == [[2]]
    assert rows_of(r, "SELECT id FROM spare ORDER BY id") == [[3], [4]]


def test_drop_trigger_and_bad_definitions(r):
    create_triggers(r)
    assert sql(r, "DROP LUATRIGGER users_13") == b"OK"
    assert "no such trigger" in error_of(sql, r, "DROP LUATRIGGER users_13")
    assert sql(r, "DROP LUATRIGGER IF EXISTS users_13") == b"OK"
    sql(r, "INSERT INTO users VALUES (13, {fname='x'}, 1)")  # no longer refused
    assert r.get("attempts") is None and r.get("users:count") == b"1"
    assert [row[0] for row in rows_of(r, "DESC users") if row[0].startswith(b"LUATRIGGER")] \
        == [b"LUATRIGGER users_ins", b"LUATRIGGER users_upd", b"LUATRIGGER users_del"]
    for statement, expected in [
            ("CREATE LUATRIGGER users_ins ON users INSERT on_delete(id)", "already exists"),
            ("CREATE LUATRIGGER x ON users INSERT nosuch(id)", "no such function: nosuch"),
            ("CREATE LUATRIGGER x ON users INSERT on_delete(nope)", "no column named 'nope'"),
            ("CREATE LUATRIGGER x ON nowhere INSERT on_delete(id)", "no such table"),
            ("CREATE LUATRIGGER x ON users UPSERT on_delete(id)", "syntax"),
            ("CREATE LUATRIGGER x ON users DELETE on_update(id, old.n, n)", "old.column"),
            ("CREATE LUATRIGGER x ON users INSERT on_delete id", "fn(column, ...)")]:
        assert expected in error_of(sql, r, statement), statement
    assert len(rows_of(r, "SHOW TRIGGERS FROM users")) == 3


def test_trigger_fires_for_inserts_from_scripts_and_the_api(db):
    db.execute("FUNCTION", "LOAD", TRIGGERS)
    db.sql("CREATE TABLE users (id INT PRIMARY KEY, info LUATABLE, n INT)")
    db.sql("CREATE LUATRIGGER ins ON users INSERT on_insert(id, info)")
    db.sql("INSERT INTO users VALUES (?, ?, ?)", 1, {"fname": "Api"}, 1)
    db.execute("EVAL", "return redis.call('INSERT', 'INTO', 'users', 'VALUES', "
                       "\"(2, {fname='Eval'}, 2)\")", "0")
    assert db.execute("GET", "users:count") == b"2"
    assert db.execute("HGET", "user:1", "fname") == b"Api"
    assert db.execute("HGET", "user:2", "fname") == b"Eval"


# -- restarts ------------------------------------------------------------------------------


def make_server(tmp_path, appendonly: bool) -> ServerProcess:
    conf = tmp_path / "alchemy.conf"
    conf.write_text(f"appendonly {'yes' if appendonly else 'no'}\nsave \"\"\n")
    return ServerProcess(tmp_path / "data", "--config", str(conf), "--appendfsync", "always")


def write_through_triggers(client, first: int) -> None:
    """Inserts (plain, with parameters, from a script), an update, a delete and a failing
    insert, each firing triggers."""
    sql(client, f"INSERT INTO users VALUES ({first}, {{fname='a'}}, 1), "
                f"({first + 1}, {{fname='b'}}, 2)")
    sql(client, "INSERT INTO users VALUES (?, ?, ?)", first + 2, '{"fname":"c"}', 3)
    client.eval("return redis.call('SQL', \"INSERT INTO users VALUES (\" .. ARGV[1] .. "
                "\", {fname='d'}, 4)\")", 0, first + 3)
    sql(client, f"UPDATE users SET n = n * 10 WHERE id = {first}")
    sql(client, f"DELETE FROM users WHERE id = {first + 1}")
    with pytest.raises(redis.ResponseError):
        sql(client, "INSERT INTO users VALUES (13, {fname='x'}, 1)")


def state(client) -> tuple:
    return (rows_of(client, "SELECT id, info, n FROM users ORDER BY id"),
            client.get("users:count"), client.get("attempts"), client.lrange("changes", 0, -1),
            sorted((k, client.hgetall(k)) for k in client.keys("user:*")),
            rows_of(client, "SHOW TRIGGERS"))


def check_after_restart(client, before: tuple) -> None:
    assert state(client) == before  # the triggers' writes applied once, not again
    sql(client, "INSERT INTO users VALUES (500, {fname='new'}, 1)")  # triggers still fire
    assert int(client.get("users:count")) == int(before[1]) + 1
    assert client.hget("user:500", "fname") == b"new"


def test_triggers_survive_kill9_through_the_log(tmp_path):
    proc = make_server(tmp_path, appendonly=True).start()
    try:
        client = proc.client()
        create_triggers(client)
        write_through_triggers(client, 1)
        before = state(client)
        assert before[1] == b"3" and before[2] == b"4"  # 13 failed: its writes undone
        proc.kill9()
        logged = (tmp_path / "data" / "appendonly.aof").read_bytes()
        assert b"LUATRIGGER" in logged and b"INCR" in logged
        proc.start()
        check_after_restart(proc.client(), before)
    finally:
        proc.stop()


def test_triggers_survive_a_snapshot(tmp_path):
    proc = make_server(tmp_path, appendonly=False).start()
    try:
        client = proc.client()
        create_triggers(client)
        write_through_triggers(client, 1)
        before = state(client)
        assert client.save()
        proc.kill9()
        proc.start()
        check_after_restart(proc.client(), before)
    finally:
        proc.stop()


def test_triggers_survive_a_log_rewrite_then_kill9(tmp_path):
    proc = make_server(tmp_path, appendonly=True).start()
    try:
        client = proc.client()
        create_triggers(client)
        write_through_triggers(client, 1)
        client.bgrewriteaof()
        deadline = time.time() + 20
        while client.info("persistence")["aof_rewrite_in_progress"]:
            assert time.time() < deadline
            time.sleep(0.05)
        write_through_triggers(client, 100)
        sql(client, "DROP LUATRIGGER users_13")
        before = state(client)
        proc.kill9()
        proc.start()
        check_after_restart(proc.client(), before)
    finally:
        proc.stop()


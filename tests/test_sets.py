"""Set commands through redis-py (RESP2 and RESP3) and redis-cli, against Redis 7.0's replies."""

import random

import pytest
import redis

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@pytest.fixture(params=["r", "r3"])
def c(request):
    """Each test runs once over RESP2 and once over RESP3."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def limits(r):
    """A small set-max-intset-entries for the test, restored afterwards."""
    saved = r.config_get("set-max-intset-entries")["set-max-intset-entries"]
    r.config_set("set-max-intset-entries", 5)
    yield
    r.config_set("set-max-intset-entries", saved)


def error_of(call, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        call(*args)
    return str(info.value)


# -- members ----------------------------------------------------------------------------

def test_sadd_scard_smembers(c):
    assert c.sadd("s", "a", "b", "a") == 2
    assert c.sadd("s", "b", "c") == 1
    assert c.scard("s") == 3
    assert c.scard("nokey") == 0
    assert c.smembers("s") == {b"a", b"b", b"c"}
    assert c.smembers("nokey") == set()
    assert c.type("s") == b"set"


def test_sismember_smismember(c):
    c.sadd("s", "a", "1")
    assert c.sismember("s", "a") in (1, True)
    assert c.sismember("s", "z") in (0, False)
    assert c.sismember("nokey", "a") in (0, False)
    assert c.smismember("s", ["a", "z", "1"]) in ([1, 0, 1], [True, False, True])
    assert c.smismember("nokey", ["a", "b"]) in ([0, 0], [False, False])


def test_srem_removes_members_and_then_the_key(c):
    c.sadd("s", "a", "b", "c")
    assert c.srem("s", "a", "z") == 1
    assert c.srem("s", "b", "c", "b") == 2
    assert c.exists("s") == 0
    assert c.srem("s", "a") == 0
    assert c.srem("nokey", "a") == 0


def test_binary_members(c):
    members = {b"\x00", b"\xff\r\n", b"", b"a" * 10000}
    assert c.sadd("s", *members) == 4
    assert c.smembers("s") == members


# -- random members ---------------------------------------------------------------------

def test_srandmember(c):
    members = {str(i).encode() for i in range(20)}
    c.sadd("s", *members)
    assert {c.srandmember("s") for _ in range(300)} == members
    assert c.srandmember("nokey") is None
    some = c.srandmember("s", 5)
    assert len(some) == 5 and len(set(some)) == 5 and set(some) <= members
    assert sorted(c.srandmember("s", 50)) == sorted(members)
    repeats = c.srandmember("s", -100)
    assert len(repeats) == 100 and set(repeats) <= members and len(set(repeats)) < 100
    assert c.srandmember("s", 0) == []
    assert c.srandmember("nokey", 5) == []
    assert c.srandmember("nokey", -5) == []
    assert c.scard("s") == 20


def test_srandmember_errors(c):
    c.sadd("s", "a")
    assert error_of(c.execute_command, "SRANDMEMBER", "s", "x") == \
        "value is not an integer or out of range"
    assert error_of(c.execute_command, "SRANDMEMBER", "s", str(-2**63)) == (
        "value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807")
    assert error_of(c.execute_command, "SRANDMEMBER", "s", "1", "2") == "syntax error"


def test_spop_single(c):
    c.sadd("s", "a", "b", "c")
    popped = {c.spop("s") for _ in range(3)}
    assert popped == {b"a", b"b", b"c"}
    assert c.exists("s") == 0
    assert c.spop("s") is None


def test_spop_of_a_big_set_among_other_writes_matches_a_model(c):
    """A big set draws from a kept list (Set.picks): members removed by SREM must never come
    out of SPOP or SRANDMEMBER, members added by SADD or SMOVE must."""
    rng = random.Random(3)
    model = {f"m{i}".encode() for i in range(600)}  # stays well above the walk's 64
    c.sadd("big", *model)
    c.sadd("other", "moved")
    serial = 600
    for round_ in range(400):
        action = rng.random()
        if action < 0.4:
            member = c.spop("big")
            assert member in model
            model.discard(member)
        elif action < 0.5:
            assert c.srandmember("big") in model
        elif action < 0.7:
            gone = rng.sample(sorted(model), min(3, len(model)))
            assert c.srem("big", *gone) == len(gone)
            model.difference_update(gone)
        elif action < 0.95:
            serial += 1
            c.sadd("big", f"m{serial}")
            model.add(f"m{serial}".encode())
        elif c.smove("other", "big", "moved"):
            model.add(b"moved")
        elif b"moved" in model:
            assert c.smove("big", "other", "moved") == 1
            model.discard(b"moved")
    assert c.smembers("big") == model
    assert {c.srandmember("big") for _ in range(20 * len(model))} == model
    drained = {c.spop("big") for _ in range(len(model))}
    assert drained == model and c.exists("big") == 0


def test_spop_draws_members_added_after_earlier_draws(c):
    c.sadd("big", *(f"old{i}" for i in range(200)))
    c.spop("big")  # the first draw lists the members
    c.sadd("big", *(f"new{i}" for i in range(200)))
    popped = [c.spop("big") for _ in range(200)]
    new = sum(member.startswith(b"new") for member in popped)
    # About half (hypergeometric, standard deviation 5); none if the list had stayed.
    assert 60 < new < 140


def test_spop_count(c):
    members = {str(i).encode() for i in range(30)}
    c.sadd("s", *members)
    popped = set()
    for count in (11, 9, 0, 4, 1, 0, 1, 0):
        got = c.spop("s", count)
        assert len(got) == count
        popped.update(got)
    assert c.scard("s") == 4
    rest = c.spop("s", 100)
    assert len(rest) == 4
    assert popped | set(rest) == members
    assert c.exists("s") == 0
    assert c.spop("nokey", 3) in ([], set())
    assert c.spop("nokey", 0) in ([], set())


def test_spop_replies_a_set_in_resp3(server, r):
    r.sadd("s", "a", "b", "c")
    assert server.cli("-3", "--no-raw", "SPOP", "s", "0") == "(empty set)\n"
    assert server.cli("-3", "--no-raw", "SPOP", "nokey", "2") == "(empty set)\n"
    assert server.cli("-3", "--no-raw", "SPOP", "s", "1").startswith("1~ ")
    assert server.cli("--no-raw", "SPOP", "s", "1").startswith("1) ")


def test_spop_errors(c):
    c.sadd("s", "a")
    for count in ("-1", "x", "1.5"):
        assert error_of(c.execute_command, "SPOP", "s", count) == \
            "value is out of range, must be positive"
    assert error_of(c.execute_command, "SPOP", "s", "1", "2") == "syntax error"
    assert c.smembers("s") == {b"a"}


# -- SMOVE ------------------------------------------------------------------------------

def test_smove(c):
    c.sadd("src", "a", "b")
    c.sadd("dst", "b")
    assert c.smove("src", "dst", "a") in (1, True)
    assert c.smove("src", "dst", "b") in (1, True)  # already in dst: still moved
    assert c.exists("src") == 0
    assert c.smembers("dst") == {b"a", b"b"}
    assert c.smove("dst", "new", "a") in (1, True)
    assert c.smembers("new") == {b"a"}
    assert c.smove("dst", "new", "zz") in (0, False)
    assert c.smove("nokey", "new", "a") in (0, False)


def test_smove_same_key_and_type_checks(c):
    c.sadd("s", "a")
    c.set("str", "x")
    assert c.smove("s", "s", "a") in (1, True)
    assert c.smove("s", "s", "z") in (0, False)
    assert c.smembers("s") == {b"a"}
    assert error_of(c.smove, "s", "str", "a") == WRONGTYPE
    assert error_of(c.smove, "str", "s", "a") == WRONGTYPE
    assert c.smove("nokey", "str", "a") in (0, False)  # Redis answers before type checks
    assert c.smembers("s") == {b"a"}


def test_smove_wakes_watchers_of_both_keys(server, r):
    r.sadd("src", "a")
    other = server.client()
    for watched in ("src", "dst"):
        r.sadd("src", "a")
        with r.pipeline() as pipe:
            pipe.watch(watched)
            other.smove("src", "dst", "a")
            pipe.multi()
            pipe.scard(watched)
            with pytest.raises(redis.WatchError):
                pipe.execute()
        r.delete("dst")
    other.close()


# -- algebra ----------------------------------------------------------------------------

def test_sinter_sunion_sdiff(c):
    c.sadd("a", "1", "2", "3", "x")
    c.sadd("b", "2", "3", "4")
    c.sadd("d", "3", "x", "y")
    assert c.sinter("a", "b") == {b"2", b"3"}
    assert c.sinter("a", "b", "d") == {b"3"}
    assert c.sinter("a", "nokey") == set()
    assert c.sinter("a") == {b"1", b"2", b"3", b"x"}
    assert c.sinter("a", "a") == {b"1", b"2", b"3", b"x"}
    assert c.sunion("a", "b", "nokey") == {b"1", b"2", b"3", b"4", b"x"}
    assert c.sunion("nokey") == set()
    assert c.sdiff("a", "b") == {b"1", b"x"}
    assert c.sdiff("a", "b", "d") == {b"1"}
    assert c.sdiff("a", "nokey") == {b"1", b"2", b"3", b"x"}
    assert c.sdiff("nokey", "a") == set()
    assert c.sdiff("a", "a") == set()


def test_algebra_replies_sets_in_resp3(server, r):
    r.sadd("a", "x")
    for name in ("SINTER", "SUNION", "SDIFF", "SMEMBERS"):
        assert server.cli("-3", "--no-raw", name, "a") == '1~ "x"\n'
        assert server.cli("-3", "--no-raw", name, "nokey") == "(empty set)\n"
        assert server.cli("--no-raw", name, "a") == '1) "x"\n'


def test_store_commands(c):
    c.sadd("a", "1", "2", "3")
    c.sadd("b", "2", "3", "4")
    assert c.sinterstore("dst", ["a", "b"]) == 2
    assert c.smembers("dst") == {b"2", b"3"}
    assert c.sunionstore("dst", ["a", "b"]) == 4
    assert c.smembers("dst") == {b"1", b"2", b"3", b"4"}
    assert c.sdiffstore("dst", ["a", "b"]) == 1
    assert c.smembers("dst") == {b"1"}
    assert c.sunionstore("a", ["a", "b"]) == 4  # a source may be the destination
    assert c.smembers("a") == {b"1", b"2", b"3", b"4"}


def test_store_overwrites_any_type_and_drops_the_ttl(c):
    c.sadd("a", "1")
    c.set("dst", "string", ex=100)
    assert c.sunionstore("dst", ["a"]) == 1
    assert c.type("dst") == b"set"
    assert c.ttl("dst") == -1


@pytest.mark.parametrize("name", ["sinterstore", "sunionstore", "sdiffstore"])
def test_store_of_an_empty_result_deletes_the_destination(c, name):
    c.set("dst", "old")
    c.sadd("a", "1")
    sources = ["nokey", "a"] if name != "sunionstore" else ["nokey", "nokey2"]
    assert getattr(c, name)("dst", sources) == 0
    assert c.exists("dst") == 0
    assert getattr(c, name)("dst", sources) == 0


@pytest.mark.parametrize("name", ["SINTER", "SUNION", "SDIFF", "SINTERSTORE", "SUNIONSTORE",
                                  "SDIFFSTORE"])
def test_algebra_checks_every_key_type(c, name):
    # Redis type-checks all the source keys, even after a missing one.
    c.sadd("a", "1")
    c.set("str", "x")
    store = ["dst"] if name.endswith("STORE") else []
    assert error_of(c.execute_command, name, *store, "nokey", "a", "str") == WRONGTYPE
    assert error_of(c.execute_command, name, *store, "str", "nokey") == WRONGTYPE
    assert c.exists("dst") == 0


def test_sintercard(c):
    c.sadd("a", *range(10))
    c.sadd("b", *range(5, 20))
    assert c.sintercard(2, ["a", "b"]) == 5
    assert c.sintercard(1, ["a"]) == 10
    assert c.sintercard(2, ["a", "b"], limit=3) == 3
    assert c.sintercard(2, ["a", "b"], limit=0) == 5
    assert c.sintercard(2, ["a", "b"], limit=100) == 5
    assert c.sintercard(2, ["a", "nokey"]) == 0
    assert c.execute_command("SINTERCARD", "2", "a", "b", "LIMIT", "1", "LIMIT", "4") == 4


def test_sintercard_errors(c):
    c.sadd("a", "1")
    c.set("str", "x")
    for numkeys in ("0", "-1", "x"):
        assert error_of(c.execute_command, "SINTERCARD", numkeys, "a") == \
            "numkeys should be greater than 0"
    assert error_of(c.execute_command, "SINTERCARD", "2", "a") == \
        "Number of keys can't be greater than number of args"
    assert error_of(c.execute_command, "SINTERCARD", "1", "a", "LIMIT") == "syntax error"
    assert error_of(c.execute_command, "SINTERCARD", "1", "a", "b") == "syntax error"
    for limit in ("-1", "x"):
        assert error_of(c.execute_command, "SINTERCARD", "1", "a", "LIMIT", limit) == \
            "LIMIT can't be negative"
    assert error_of(c.execute_command, "SINTERCARD", "2", "nokey", "str") == WRONGTYPE


def test_algebra_matches_python_sets(c):
    rng = random.Random(7)
    universe = [str(i) for i in range(40)] + [f"m{i}" for i in range(40)]
    keys = [f"set:{i}" for i in range(6)]
    model: dict[str, set] = {}
    for round_ in range(300):
        key = rng.choice(keys)
        if rng.random() < 0.5:
            members = rng.sample(universe, rng.randint(1, 25))
            c.sadd(key, *members)
            model.setdefault(key, set()).update(m.encode() for m in members)
        else:
            members = rng.sample(universe, rng.randint(1, 25))
            c.srem(key, *members)
            model.setdefault(key, set()).difference_update(m.encode() for m in members)
        chosen = rng.sample(keys, rng.randint(1, 4))
        sets = [model.get(k, set()) for k in chosen]
        assert c.sinter(*chosen) == set.intersection(*sets)
        assert c.sunion(*chosen) == set.union(*sets)
        assert c.sdiff(*chosen) == sets[0].difference(*sets[1:])
        assert c.sintercard(len(chosen), chosen) == len(set.intersection(*sets))
        operation = rng.choice(["sinterstore", "sunionstore", "sdiffstore"])
        destination = rng.choice(keys)
        expected = {"sinterstore": set.intersection, "sunionstore": set.union,
                    "sdiffstore": lambda first, *rest: first.difference(*rest)}[operation](*sets)
        assert getattr(c, operation)(destination, chosen) == len(expected)
        model[destination] = set(expected)
        for k in keys:
            assert c.smembers(k) == model.get(k, set())
            assert c.exists(k) == (1 if model.get(k) else 0)


# -- scanning ---------------------------------------------------------------------------

def test_sscan(c):
    c.sadd("ints", *range(10))
    cursor, batch = c.sscan("ints", 0, count=2)  # an intset comes whole, as in Redis
    assert cursor == 0 and sorted(batch) == sorted(c.smembers("ints"))
    members = {f"member:{i}".encode() for i in range(1000)}
    c.sadd("big", *members)
    cursor, batch = c.sscan("big", 0, count=100)
    assert cursor != 0 and batch
    assert set(c.sscan_iter("big", count=77)) == members
    assert set(c.sscan_iter("big", match="member:99*")) == \
        {m for m in members if m.startswith(b"member:99")}
    assert c.sscan("nokey", 0) == (0, [])


def test_sscan_errors(c):
    c.sadd("s", "a")
    assert error_of(c.execute_command, "SSCAN", "s", "x") == "invalid cursor"
    assert error_of(c.execute_command, "SSCAN", "s", "0", "COUNT", "0") == "syntax error"
    assert error_of(c.execute_command, "SSCAN", "s", "0", "MATCH") == "syntax error"
    assert error_of(c.execute_command, "SSCAN", "s", "0", "TYPE", "set") == "syntax error"
    assert error_of(c.execute_command, "SSCAN", "s", "0", "COUNT", "x") == \
        "value is not an integer or out of range"


# -- encodings --------------------------------------------------------------------------

def test_encoding_follows_redis_7_0(r, limits):
    r.sadd("s", 1, 2, 3)
    assert r.object("encoding", "s") == b"intset"
    r.sadd("s", "a")
    assert r.object("encoding", "s") == b"hashtable"
    r.srem("s", "a")
    assert r.object("encoding", "s") == b"hashtable"  # never converted back
    r.sadd("n", 1, 2, 3, 4, 5)
    assert r.object("encoding", "n") == b"intset"
    r.sadd("n", 6)
    assert r.object("encoding", "n") == b"hashtable"
    r.sadd("odd", "-0")  # not an integer the way Redis reads them
    assert r.object("encoding", "odd") == b"hashtable"
    r.sadd("m", "a")
    assert r.smove("m", "moved", "a") in (1, True)
    assert r.object("encoding", "moved") == b"hashtable"
    r.sadd("m", "7")
    r.smove("m", "moved2", "7")
    assert r.object("encoding", "moved2") == b"intset"


def test_store_and_spop_choose_encodings_afresh(r, limits):
    r.sadd("a", 1, 2, 3, "x")
    r.sadd("b", 1, 2, 3)
    r.sinterstore("dst", ["a", "b"])
    assert r.object("encoding", "dst") == b"intset"
    r.sadd("big", *range(6))
    r.spop("big", 1)  # few popped: the set is kept as it is
    assert r.object("encoding", "big") == b"hashtable"
    r.sadd("big2", *range(6))
    r.spop("big2", 5)  # most popped: Redis rebuilds it from the survivor
    assert r.object("encoding", "big2") == b"intset"


def test_copy_keeps_encoding_and_is_independent(r, limits):
    r.sadd("s", 1, 2, "a")
    r.srem("s", "a")
    assert r.copy("s", "s2") in (1, True)
    assert r.object("encoding", "s2") == b"hashtable"
    r.sadd("s2", 9)
    assert r.sismember("s", 9) in (0, False)


# -- errors shared by every command -----------------------------------------------------

SET_COMMANDS = [
    ("SADD", "k", "m"), ("SREM", "k", "m"), ("SCARD", "k"), ("SISMEMBER", "k", "m"),
    ("SMISMEMBER", "k", "m"), ("SMEMBERS", "k"), ("SRANDMEMBER", "k"),
    ("SRANDMEMBER", "k", "0"), ("SPOP", "k"), ("SPOP", "k", "0"), ("SMOVE", "k", "x", "m"),
    ("SINTER", "k"), ("SINTERCARD", "1", "k"), ("SUNION", "k"), ("SDIFF", "k"),
    ("SINTERSTORE", "x", "k"), ("SUNIONSTORE", "x", "k"), ("SDIFFSTORE", "x", "k"),
    ("SSCAN", "k", "0"),
]


@pytest.mark.parametrize("args", SET_COMMANDS, ids=lambda a: " ".join(a))
def test_wrongtype(c, args):
    c.set("k", "string")
    assert error_of(c.execute_command, *args) == WRONGTYPE
    assert c.get("k") == b"string"
    assert c.exists("x") == 0


@pytest.mark.parametrize("args", [
    ("SADD", "k"), ("SREM", "k"), ("SCARD",), ("SISMEMBER", "k"), ("SMISMEMBER", "k"),
    ("SMEMBERS",), ("SRANDMEMBER",), ("SPOP",), ("SMOVE", "a", "b"), ("SINTER",),
    ("SINTERCARD", "1"), ("SUNION",), ("SDIFF",), ("SINTERSTORE", "d"), ("SUNIONSTORE", "d"),
    ("SDIFFSTORE", "d"), ("SSCAN", "k"),
], ids=lambda a: " ".join(a))
def test_wrong_arity(c, args):
    name = args[0].lower()
    assert error_of(c.execute_command, *args) == \
        f"wrong number of arguments for '{name}' command"


# -- writes are seen by WATCH, and only real writes --------------------------------------

def test_watch_sees_only_real_writes(server, r):
    r.sadd("s", "a")
    other = server.client()
    with r.pipeline() as pipe:
        pipe.watch("s", "dst")
        other.sadd("s", "a")  # nothing added
        other.srem("s", "zz")  # nothing removed
        other.sinterstore("dst", ["nokey"])  # nothing to delete
        pipe.multi()
        pipe.scard("s")
        assert pipe.execute() == [1]
    with r.pipeline() as pipe:
        pipe.watch("dst")
        other.sunionstore("dst", ["s"])
        pipe.multi()
        pipe.scard("dst")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    other.close()


# -- redis-cli --------------------------------------------------------------------------

def test_redis_cli(server, r):
    assert server.cli("SADD", "tags", "red", "green", "blue") == "3\n"
    assert server.cli("SISMEMBER", "tags", "red") == "1\n"
    assert server.cli("SCARD", "tags") == "3\n"
    assert server.cli("SADD", "other", "red", "black") == "2\n"
    assert server.cli("SINTER", "tags", "other") == "red\n"
    assert server.cli("-3", "--no-raw", "SDIFF", "other", "tags") == '1~ "black"\n'
    assert server.cli("SINTERCARD", "0", "tags") == "ERR numkeys should be greater than 0\n\n"
    assert server.cli("SMISMEMBER", "tags", "red", "pink") == "1\n0\n"


def test_default_encoding_limits(r):
    r.sadd("s", *range(512))
    assert r.object("encoding", "s") == b"intset"
    r.sadd("s", 512)
    assert r.object("encoding", "s") == b"hashtable"
    r.sadd("edges", 2**63 - 1, -2**63)
    assert r.object("encoding", "edges") == b"intset"
    r.sadd("edges", 2**63)
    assert r.object("encoding", "edges") == b"hashtable"


def test_smove_of_a_member_already_there_leaves_a_destination_watch_alone(r):
    r.sadd("src", "m", "n")
    r.sadd("dst", "m")
    watcher = r.pipeline()
    watcher.watch("dst")
    assert r.smove("src", "dst", "m")
    watcher.multi()
    watcher.set("x", 1)
    assert watcher.execute() == [True]

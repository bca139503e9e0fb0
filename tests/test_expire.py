"""Expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT, TTL, PTTL, EXPIRETIME,
PEXPIRETIME, PERSIST, and lazy and active reclaiming of expired keys."""

import time

import pytest
import redis

import alchemy

SET_COMMANDS = ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]


def error_of(client, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        client.execute_command(*args)
    return str(info.value)


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# -- setting and reading deadlines ------------------------------------------------------

def test_expire_and_ttl(r):
    r.set("k", "v")
    assert r.ttl("k") == -1 and r.pttl("k") == -1
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 99000 < r.pttl("k") <= 100000
    assert r.ttl("missing") == -2 and r.pttl("missing") == -2


def test_pexpire_rounds_ttl_to_nearest_second(r):
    r.set("k", "v")
    r.pexpire("k", 2600)
    assert r.ttl("k") == 3  # (ms + 500) / 1000, as Redis does
    r.pexpire("k", 2300)
    assert r.ttl("k") == 2


def test_expireat_and_expiretime(r):
    r.set("k", "v")
    at = int(time.time()) + 1000
    assert r.expireat("k", at) is True
    assert r.expiretime("k") == at
    assert r.pexpiretime("k") == at * 1000
    assert r.pexpireat("k", at * 1000 + 1499) is True
    assert r.expiretime("k") == at + 1  # rounded, like TTL
    assert r.pexpiretime("k") == at * 1000 + 1499
    r.persist("k")
    assert r.expiretime("k") == -1 and r.pexpiretime("k") == -1
    assert r.expiretime("missing") == -2 and r.pexpiretime("missing") == -2


def test_expire_missing_key(r):
    for name in SET_COMMANDS:
        assert r.execute_command(name, "missing", "100") == 0


@pytest.mark.parametrize("name, value", [
    ("EXPIRE", "0"), ("EXPIRE", "-5"), ("PEXPIRE", "-1"), ("EXPIREAT", "1000"),
    ("PEXPIREAT", "1"), ("PEXPIREAT", "-9223372036854775808"),
])
def test_deadline_in_the_past_deletes(r, name, value):
    r.set("k", "v")
    assert r.execute_command(name, "k", value) == 1
    assert r.exists("k") == 0
    assert r.execute_command(name, "k", value) == 0


def test_set_clears_ttl_and_persist(r):
    r.set("k", "v", ex=100)
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False
    assert r.persist("missing") is False
    r.expire("k", 100)
    r.set("k", "w")
    assert r.ttl("k") == -1


# -- NX / XX / GT / LT ------------------------------------------------------------------

def test_nx_xx(r):
    r.set("k", "v")
    assert r.expire("k", 100, xx=True) is False
    assert r.ttl("k") == -1
    assert r.expire("k", 100, nx=True) is True
    assert r.expire("k", 200, nx=True) is False
    assert r.expire("k", 200, xx=True) is True
    assert 199 <= r.ttl("k") <= 200


def test_gt_lt(r):
    r.set("k", "v")
    assert r.expire("k", 100, gt=True) is False  # no TTL counts as infinite
    assert r.ttl("k") == -1
    assert r.expire("k", 100, lt=True) is True
    assert r.expire("k", 200, lt=True) is False
    assert r.expire("k", 200, gt=True) is True
    at = int(time.time() * 1000) + 300000
    assert r.pexpireat("k", at, gt=True) is True
    assert r.pexpireat("k", at, gt=True) is False  # equal is not greater
    assert r.pexpireat("k", at, lt=True) is False  # nor less
    assert r.expire("k", 50, lt=True) is True
    assert 49 <= r.ttl("k") <= 50
    assert r.execute_command("EXPIRE", "k", "100", "XX", "GT") == 1
    assert r.execute_command("PEXPIRE", "k", "-1", "lt") == 1  # past: deleted
    assert r.exists("k") == 0


def test_option_errors(r):
    r.set("k", "v")
    for name in SET_COMMANDS:
        assert error_of(r, name, "k", "10", "NX", "XX") == \
            "NX and XX, GT or LT options at the same time are not compatible"
        assert error_of(r, name, "k", "10", "gt", "nx") == \
            "NX and XX, GT or LT options at the same time are not compatible"
        assert error_of(r, name, "k", "10", "GT", "LT") == \
            "GT and LT options at the same time are not compatible"
        assert error_of(r, name, "k", "10", "foo") == "Unsupported option foo"
        # Options are checked before the number.
        assert error_of(r, name, "k", "abc", "bar") == "Unsupported option bar"
        assert error_of(r, name, "k", "abc") == "value is not an integer or out of range"
        assert error_of(r, name, "k", "1.5") == "value is not an integer or out of range"
        assert error_of(r, name, "k") == f"wrong number of arguments for '{name.lower()}' command"
    assert r.ttl("k") == -1


def test_nx_nx_is_fine(r):
    r.set("k", "v")
    assert r.execute_command("EXPIRE", "k", "100", "NX", "nx") == 1


@pytest.mark.parametrize("name, value", [
    ("EXPIRE", "9223372036854775807"), ("EXPIRE", "9223372036854776"),
    ("EXPIRE", "-9223372036854775808"), ("EXPIRE", "-9223372036854776"),
    ("EXPIREAT", "9223372036854775807"), ("PEXPIRE", "9223372036854775807"),
])
def test_overflow(r, name, value):
    r.set("k", "v")
    assert error_of(r, name, "k", value) == f"invalid expire time in '{name.lower()}' command"
    assert r.ttl("k") == -1


def test_largest_deadlines_are_accepted(r):
    r.set("k", "v")
    assert r.execute_command("PEXPIREAT", "k", "9223372036854775807") == 1
    assert r.pexpiretime("k") == 9223372036854775807
    assert r.execute_command("EXPIREAT", "k", "9223372036854775") == 1
    assert r.execute_command("EXPIRE", "k", "-9223372036854775") == 1
    assert r.exists("k") == 0


def test_value_not_integer_for_64_bit_overflow(r):
    r.set("k", "v")
    assert error_of(r, "PEXPIREAT", "k", "9223372036854775808") == \
        "value is not an integer or out of range"


def test_read_commands_arity(r):
    for name in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"]:
        assert error_of(r, name) == f"wrong number of arguments for '{name.lower()}' command"
        assert error_of(r, name, "a", "b") == \
            f"wrong number of arguments for '{name.lower()}' command"


def test_resp3(r3):
    r3.set("k", "v")
    assert r3.expire("k", 100, nx=True) is True
    assert 99 <= r3.ttl("k") <= 100
    assert r3.pttl("missing") == -2
    assert r3.persist("k") is True


def test_cli(server, r):
    r.set("k", "v")
    assert server.cli("EXPIRE", "k", "100", "NX", "XX").strip() == \
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    assert server.cli("EXPIRE", "k", "100").strip() == "1"
    assert server.cli("TTL", "k").strip() in ("99", "100")


# -- reclaiming expired keys ------------------------------------------------------------

def test_lazy_expiry_on_access(r):
    r.set("k", "v", px=50)
    time.sleep(0.1)
    assert r.get("k") is None
    assert r.ttl("k") == -2
    assert r.exists("k") == 0


def test_rename_keeps_remaining_ttl(r):
    r.set("k", "v", px=5000)
    r.rename("k", "renamed")
    assert 0 < r.pttl("renamed") <= 5000


def test_active_expiry_reclaims_untouched_keys(r):
    with r.pipeline(transaction=False) as pipe:
        for i in range(1000):
            pipe.set(f"volatile:{i}", i, px=1000)
        pipe.set("stays", 1)
        pipe.execute()
    assert r.dbsize() == 1001
    # Only DBSIZE is sent while waiting: it counts keys, it never reclaims them.
    assert wait_until(lambda: r.dbsize() == 1, 10)
    assert r.get("stays") == b"1"


def test_active_expiry_in_every_database(server, r):
    other = server.client(db=7)
    for i in range(50):
        other.set(f"k{i}", i, px=50)
    assert wait_until(lambda: other.dbsize() == 0, 10)
    other.close()


def test_expiry_aborts_watch(server, r):
    r.set("k", "v", px=300)
    with server.client().pipeline() as pipe:
        pipe.watch("k")
        time.sleep(0.5)
        pipe.multi()
        pipe.get("k")
        with pytest.raises(redis.WatchError):
            pipe.execute()


def test_expire_aborts_watch(server, r):
    r.set("k", "v")
    with server.client().pipeline() as pipe:
        pipe.watch("k")
        r.expire("k", 100)
        pipe.multi()
        pipe.get("k")
        with pytest.raises(redis.WatchError):
            pipe.execute()


# -- in-process API ---------------------------------------------------------------------

def test_inprocess_dbsize_counts_until_reclaimed(db):
    for i in range(100):
        db.execute("SET", f"k{i}", "v", "PX", "10")
    db.execute("SET", "stays", "v")
    time.sleep(0.05)
    assert db.execute("DBSIZE") == 101  # expired but not yet reclaimed
    assert db.execute("KEYS", "*") == [b"stays"]  # KEYS hides them, without reclaiming
    assert db.execute("DBSIZE") == 101
    db.cron()
    assert db.execute("DBSIZE") == 1


def test_inprocess_expire(db):
    db.execute("SET", "k", "v")
    assert db.execute("PEXPIRE", "k", "100000", "NX") == 1
    assert 99000 < db.execute("PTTL", "k") <= 100000
    assert db.execute("PERSIST", "k") == 1
    assert db.execute("TTL", "k") == -1
    with pytest.raises(alchemy.AlchemyError) as info:
        db.execute("EXPIRE", "k", "10", "GT", "LT")
    assert info.value.message == "ERR GT and LT options at the same time are not compatible"
    assert db.execute("EXPIRE", "k", "-1") == 1
    assert db.execute("EXISTS", "k") == 0

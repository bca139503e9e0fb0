"""Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

The *_CASES tables are sequences of (command, reply) recorded from Redis 7.0.15; each is
replayed through redis-py against the server and through the in-process API. The rest test
behaviour the tables cannot show: growth, TTLs, WATCH, limits and a random model check.
"""

import random

import pytest
import redis

import alchemy

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
BIT_OFFSET = "bit offset is not an integer or out of range"
BIT_VALUE = "bit is not an integer or out of range"


def run_redis_py(client, command):
    try:
        reply = client.execute_command(*command)
    except redis.ResponseError as error:
        return ("error", str(error))
    return "OK" if reply is True else reply


def run_inprocess(db, command):
    try:
        return db.execute(*command)
    except alchemy.AlchemyError as error:
        message = error.message
        return ("error", message[4:] if message.startswith("ERR ") else message)


def replay(run, target, cases):
    for command, expected in cases:
        assert run(target, command) == expected, command


# -- golden tables ---------------------------------------------------------------------

BITCOUNT_CASES = [
    (('SET', 's', 'foobar'), "OK"),
    (('BITCOUNT', 's'), 26),
    (('BITCOUNT', 's', 0, 0), 4),
    (('BITCOUNT', 's', 1, 1), 6),
    (('BITCOUNT', 's', 1, 1, 'BYTE'), 6),
    (('BITCOUNT', 's', 5, 30, 'BIT'), 17),
    (('BITCOUNT', 's', -1, -2), 0),
    (('BITCOUNT', 's', -1, -2, 'foo'), 0),
    (('BITCOUNT', 's', 0, -1, 'foo'), ('error', 'syntax error')),
    (('BITCOUNT', 's', 0), ('error', 'syntax error')),
    (('BITCOUNT', 's', 0, 1, 'bit', 'x'), ('error', 'syntax error')),
    (('BITCOUNT', 'nokey'), 0),
    (('BITCOUNT', 'nokey', 'a', 'b'), 0),
    (('BITCOUNT', 's', 'a', 1), ('error', 'value is not an integer or out of range')),
    (('BITCOUNT', 's', -100, 100), 26),
    (('BITCOUNT', 's', -3, -1, 'bit'), 1),
    (('BITCOUNT', 's', 100, 200), 0),
    (('BITCOUNT', 's', 2, 1), 0),
    (('BITCOUNT', 's', 0, -1, 'BiT'), 26),
    (('BITCOUNT', 's', 3, 3, 'bit'), 0),
    (('BITCOUNT', 's', 1, 46, 'bit'), 26),
]

BITPOS_CASES = [
    (('SET', 'e', ''), "OK"),
    (('BITPOS', 'e', 0), -1),
    (('BITPOS', 'e', 1), -1),
    (('SET', 'z', b'\x00\x00\x00'), "OK"),
    (('BITPOS', 'z', 1), -1),
    (('BITPOS', 'z', 0), 0),
    (('BITPOS', 'z', 0, 1), 8),
    (('BITPOS', 'z', 1, 1, 2), -1),
    (('SET', 'f', b'\xff\xff\xff'), "OK"),
    (('BITPOS', 'f', 0), 24),
    (('BITPOS', 'f', 0, 1), 24),
    (('BITPOS', 'f', 0, 1, -1), -1),
    (('BITPOS', 'f', 1), 0),
    (('BITPOS', 'f', 0, 0, -1, 'bit'), -1),
    (('BITPOS', 'f', 0, 3, 23, 'bit'), -1),
    (('BITPOS', 'f', 2), ('error', 'The bit argument must be 1 or 0.')),
    (('BITPOS', 'f', 'a'), ('error', 'value is not an integer or out of range')),
    (('BITPOS', 'nokey', 0), 0),
    (('BITPOS', 'nokey', 1), -1),
    (('BITPOS', 'nokey', 1, 'a'), -1),
    (('SET', 'm', b'\xff\xf0\x00'), "OK"),
    (('BITPOS', 'm', 0), 12),
    (('BITPOS', 'm', 1, 2), -1),
    (('BITPOS', 'm', 0, 0, 0), -1),
    (('BITPOS', 'm', 0, 0, -1), 12),
    (('BITPOS', 'm', 1, 7, 15, 'bit'), 7),
    (('BITPOS', 'm', 0, 7, 15, 'bit'), 12),
    (('BITPOS', 'm', 0, 12, 15, 'bit'), 12),
    (('BITPOS', 'm', 0, 2, 3, 'bit'), -1),
    (('BITPOS', 'm', 1, 0, -1, 'foo'), ('error', 'syntax error')),
    (('BITPOS', 'm', 1, 0, 'x', 'foo'), ('error', 'syntax error')),
    (('BITPOS', 'm', 1, 'x', 0), ('error', 'value is not an integer or out of range')),
    (('BITPOS', 'm', 1, 0, 1, 'byte', 'x'), ('error', 'syntax error')),
    (('BITPOS', 'm', 1, 100), -1),
    (('BITPOS', 'm', 0, 100), -1),
    (('BITPOS', 'm', 0, -100), 12),
    (('BITPOS', 'm', 1, -1, -2), -1),
    (('BITPOS', 'm', 0, 5, 3, 'bit'), -1),
    (('BITPOS', 'm', 0, -5, -1, 'bit'), 19),
    (('BITPOS', 'm', 1, -20, -1, 'bit'), 4),
    (('BITPOS', 'm', 1, 9, 9, 'bit'), 9),
    (('BITPOS', 'm', 0, 9, 9, 'bit'), -1),
]

BITFIELD_CASES = [
    (('BITFIELD', 'bf', 'SET', 'i8', 0, -100), [0]),
    (('BITFIELD', 'bf', 'GET', 'i8', 0, 'GET', 'u8', 0, 'GET', 'u4', 4, 'GET', 'i4', 0), [-100, 156, 12, -7]),
    (('BITFIELD', 'bf', 'INCRBY', 'i8', 0, -100), [56]),
    (('BITFIELD', 'bf', 'OVERFLOW', 'SAT', 'INCRBY', 'i8', 0, -100, 'OVERFLOW', 'FAIL', 'INCRBY', 'i8', 0, -1, 'GET', 'i8', 0), [-44, -45, -45]),
    (('BITFIELD', 'bf', 'SET', 'u8', '#1', 255, 'GET', 'u8', 8, 'SET', 'u8', '#2', 256, 'OVERFLOW', 'SAT', 'SET', 'u8', '#3', 256, 'SET', 'u8', '#4', -1, 'OVERFLOW', 'FAIL', 'SET', 'u8', '#5', -1, 'GET', 'u8', '#5'), [0, 255, 0, 0, 0, None, 0]),
    (('BITFIELD', 'bf', 'OVERFLOW', 'WRAP', 'SET', 'u8', 0, -1, 'SET', 'i64', 0, -9223372036854775808, 'INCRBY', 'i64', 0, -1, 'GET', 'i64', 0, 'GET', 'u63', 0, 'GET', 'u63', 1), [211, -280375481860096, 9223372036854775807, 9223372036854775807, 4611686018427387903, 9223372036854775807]),
    (('BITFIELD', 'bf', 'OVERFLOW', 'SAT', 'INCRBY', 'i64', 0, -1, 'INCRBY', 'i64', 0, 9223372036854775807, 'INCRBY', 'i64', 0, 9223372036854775807, 'OVERFLOW', 'WRAP', 'INCRBY', 'i64', 0, 1), [9223372036854775806, 9223372036854775807, 9223372036854775807, -9223372036854775808]),
    (('BITFIELD', 'bf', 'SET', 'u63', 3, 123456789012345678, 'INCRBY', 'u63', 3, 9223372036854775807, 'OVERFLOW', 'SAT', 'INCRBY', 'u63', 3, 9223372036854775807, 'INCRBY', 'u63', 3, -9223372036854775808), [0, 123456789012345677, 9223372036854775807, 0]),
    (('BITFIELD', 'bf', 'GET', 'u64', 0), ('error', 'Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.')),
    (('BITFIELD', 'bf', 'GET', 'i65', 0), ('error', 'Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.')),
    (('BITFIELD', 'bf', 'GET', 'I8', 0), ('error', 'Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.')),
    (('BITFIELD', 'bf', 'GET', 'i0', 0), ('error', 'Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.')),
    (('BITFIELD', 'bf', 'GET', 'x8', 0), ('error', 'Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.')),
    (('BITFIELD', 'bf', 'GET', 'u8'), ('error', 'syntax error')),
    (('BITFIELD', 'bf', 'FOO'), ('error', 'syntax error')),
    (('BITFIELD', 'bf', 'OVERFLOW', 'x', 'GET', 'u8', 0), ('error', 'Invalid OVERFLOW type specified')),
    (('BITFIELD', 'bf', 'GET', 'u8', -1), ('error', 'bit offset is not an integer or out of range')),
    (('BITFIELD', 'bf', 'GET', 'u8', '#-1'), ('error', 'bit offset is not an integer or out of range')),
    (('BITFIELD', 'bf', 'GET', 'u8', 4294967295), [0]),
    (('BITFIELD', 'bf', 'GET', 'u8', 4294967296), ('error', 'bit offset is not an integer or out of range')),
    (('BITFIELD', 'bf', 'GET', 'u8', '#536870911'), [0]),
    (('BITFIELD', 'bf', 'GET', 'u8', '#536870912'), ('error', 'bit offset is not an integer or out of range')),
    (('BITFIELD', 'bf', 'SET', 'u8', 0, 'x'), ('error', 'value is not an integer or out of range')),
    (('BITFIELD', 'bf', 'GET', 'u8', '##1'), ('error', 'bit offset is not an integer or out of range')),
    (('BITFIELD_RO', 'bf', 'GET', 'u8', 0, 'GET', 'i3', 5), [128, 0]),
    (('BITFIELD_RO', 'bf', 'SET', 'u8', 0, 1), ('error', 'BITFIELD_RO only supports the GET subcommand')),
    (('BITFIELD_RO', 'bf', 'GET', 'u8', 0, 'INCRBY', 'u8', 0, 'x'), ('error', 'value is not an integer or out of range')),
    (('BITFIELD_RO', 'bf'), []),
    (('BITFIELD_RO', 'nokey', 'GET', 'i8', 100), [0]),
    (('BITFIELD', 'new', 'OVERFLOW', 'FAIL', 'SET', 'u2', 10, 9), [None]),
    (('GET', 'new'), b'\x00\x00'),
    (('BITFIELD', 'g', 'SET', 'u3', '#0', 5, 'SET', 'i5', '#1', -3, 'INCRBY', 'u7', 13, 100), [0, 0, 100]),
    (('GET', 'g'), b'\xa7F@'),
    (('BITFIELD', 'g', 'GET', 'u3', '#0', 'GET', 'i5', '#1', 'get', 'u7', 13), [5, -3, 100]),
]

GOLDEN = [BITCOUNT_CASES, BITPOS_CASES, BITFIELD_CASES]


@pytest.mark.parametrize("cases", GOLDEN, ids=["bitcount", "bitpos", "bitfield"])
def test_golden_redis_py(r, cases):
    replay(run_redis_py, r, cases)


@pytest.mark.parametrize("cases", GOLDEN, ids=["bitcount", "bitpos", "bitfield"])
def test_golden_inprocess(db, cases):
    replay(run_inprocess, db, cases)


# -- SETBIT / GETBIT -------------------------------------------------------------------

def test_setbit_returns_old_bit_and_grows(r):
    assert r.setbit("k", 7, 1) == 0
    assert r.get("k") == b"\x01"
    assert r.setbit("k", 7, 1) == 1
    assert r.setbit("k", 7, 0) == 1
    assert r.setbit("k", 100, 1) == 0
    assert r.strlen("k") == 13
    assert r.get("k") == b"\x00" * 12 + b"\x08"
    assert r.getbit("k", 100) == 1
    assert r.getbit("k", 101) == 0
    assert r.getbit("k", 10_000) == 0
    assert r.getbit("missing", 3) == 0


def test_setbit_on_existing_string_keeps_other_bits(r):
    r.set("k", "`")  # 0b01100000
    assert r.setbit("k", 1, 0) == 1
    assert r.setbit("k", 7, 1) == 0
    assert r.get("k") == b"!"  # 0b00100001
    assert r.append("k", "x") == 2
    assert r.getbit("k", 2) == 1


def test_setbit_keeps_ttl(r):
    r.set("k", "ab", ex=100)
    r.setbit("k", 1000, 1)
    assert 0 < r.ttl("k") <= 100


@pytest.mark.parametrize("offset", ["-1", "4294967296", "x", "1.5", "+1", "#1", " 1", ""])
def test_setbit_bad_offset(r, offset):
    with pytest.raises(redis.ResponseError, match=f"^{BIT_OFFSET}$"):
        r.execute_command("SETBIT", "k", offset, 1)
    with pytest.raises(redis.ResponseError, match=f"^{BIT_OFFSET}$"):
        r.execute_command("GETBIT", "k", offset)
    assert r.exists("k") == 0


@pytest.mark.parametrize("value", ["2", "-1", "x", "01", ""])
def test_setbit_bad_value(r, value):
    with pytest.raises(redis.ResponseError, match=f"^{BIT_VALUE}$"):
        r.execute_command("SETBIT", "k", 0, value)


def test_offset_limit_follows_proto_max_bulk_len(r):
    r.config_set("proto-max-bulk-len", "1mb")
    try:
        last = 8 * 1024 * 1024 - 1
        assert r.setbit("k", last, 1) == 0
        assert r.strlen("k") == 1024 * 1024
        assert r.bitpos("k", 1) == last
        with pytest.raises(redis.ResponseError, match=f"^{BIT_OFFSET}$"):
            r.setbit("k", last + 1, 1)
        with pytest.raises(redis.ResponseError, match=f"^{BIT_OFFSET}$"):
            r.execute_command("BITFIELD", "k", "GET", "u8", "#1048576")
    finally:
        r.config_set("proto-max-bulk-len", "512mb")


def test_wrong_type(r):
    r.sadd("s", "a")
    for command in (("SETBIT", "s", 0, 1), ("GETBIT", "s", 0), ("BITCOUNT", "s"),
                    ("BITPOS", "s", 1), ("BITOP", "OR", "d", "s"),
                    ("BITFIELD", "s", "GET", "u8", 0), ("BITFIELD_RO", "s", "GET", "u8", 0),
                    ("BITFIELD", "s")):
        with pytest.raises(redis.ResponseError, match=f"^{WRONGTYPE}$"):
            r.execute_command(*command)


def test_setbit_converts_bytes_once_then_mutates_in_place(db):
    keyspace = db.dbs[0]
    db.execute("SET", "k", "abc")
    assert type(keyspace.data[b"k"]) is bytes
    db.execute("SETBIT", "k", 0, 1)
    buffer = keyspace.data[b"k"]
    assert type(buffer) is bytearray
    db.execute("SETBIT", "k", 1_000_000, 1)
    db.execute("BITFIELD", "k", "SET", "u8", 8, 255)
    assert keyspace.data[b"k"] is buffer
    snapshot = db.execute("GET", "k")
    db.execute("SETBIT", "k", 3, 1)
    assert snapshot[:2] == b"\xe1\xff"
    assert db.execute("GET", "k")[:2] == b"\xf1\xff"


def test_get_returns_a_copy_not_the_live_buffer(db):
    db.execute("SETBIT", "k", 0, 1)
    before = db.execute("GET", "k")
    db.execute("SETBIT", "k", 1, 1)
    assert before == b"\x80"
    assert db.execute("GET", "k") == b"\xc0"


# -- BITCOUNT / BITPOS -----------------------------------------------------------------

def test_bitcount_bit_and_byte_ranges(r):
    r.set("k", b"\xff\x0f\xf0")
    assert r.bitcount("k") == 16
    assert r.bitcount("k", 1, 1) == 4
    assert r.bitcount("k", 4, 11, "BIT") == 4 + 0
    assert r.bitcount("k", 4, 12, "bit") == 5
    assert r.bitcount("k", -8, -1, "BIT") == 4
    assert r.bitcount("k", -9, -1, "bit") == 5
    assert r.bitcount("k", 0, -1, "BYTE") == 16


def test_bitpos_rules_for_all_clear_and_all_set(r):
    r.set("clear", b"\x00\x00")
    r.set("set", b"\xff\xff")
    assert r.bitpos("clear", 1) == -1
    assert r.bitpos("set", 0) == 16          # no end given: the string is zero-padded
    assert r.bitpos("set", 0, 0) == 16
    assert r.bitpos("set", 0, 0, -1) == -1   # an explicit end: no zero in the range
    assert r.bitpos("set", 0, 0, 15, "BIT") == -1
    assert r.bitpos("clear", 0, 1) == 8


def test_cli_path(server, r):
    assert server.cli("SETBIT", "active", "1234", "1").strip() == "0"
    assert server.cli("SETBIT", "active", "99", "1").strip() == "0"
    assert server.cli("BITCOUNT", "active").strip() == "2"
    assert server.cli("BITPOS", "active", "1").strip() == "99"
    assert server.cli("BITFIELD", "active", "GET", "u8", "#12").strip() == "16"
    assert "Invalid bitfield type" in server.cli("BITFIELD", "active", "GET", "u64", "0")


# -- BITOP -----------------------------------------------------------------------------

def test_bitop_pads_to_longest_input(r):
    r.set("a", b"\x0f\xf0\x01")
    r.set("b", b"\xff")
    assert r.bitop("AND", "d", "a", "b") == 3
    assert r.get("d") == b"\x0f\x00\x00"
    assert r.bitop("OR", "d", "a", "b") == 3
    assert r.get("d") == b"\xff\xf0\x01"
    assert r.bitop("XOR", "d", "a", "b", "missing") == 3
    assert r.get("d") == b"\xf0\xf0\x01"
    assert r.bitop("NOT", "d", "a") == 3
    assert r.get("d") == b"\xf0\x0f\xfe"
    assert r.bitop("and", "d", "a", "missing") == 3
    assert r.get("d") == b"\x00\x00\x00"


def test_bitop_empty_result_deletes_destination(r):
    r.set("d", "x")
    r.set("empty", "")
    assert r.bitop("OR", "d", "missing", "missing2") == 0
    assert r.exists("d") == 0
    r.set("d", "x")
    assert r.bitop("AND", "d", "empty") == 0
    assert r.exists("d") == 0
    assert r.bitop("NOT", "d", "empty") == 0
    assert r.exists("d") == 0


def test_bitop_replaces_destination_and_its_ttl(r):
    r.set("a", "ab")
    r.set("d", "old", ex=100)
    assert r.bitop("OR", "d", "a") == 2
    assert r.get("d") == b"ab"
    assert r.ttl("d") == -1
    assert r.bitop("OR", "a", "a", "d") == 2   # destination among the sources


def test_bitop_errors(r):
    r.set("a", "x")
    with pytest.raises(redis.ResponseError, match="^BITOP NOT must be called with a single "
                                                  "source key.$"):
        r.bitop("NOT", "d", "a", "a")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.bitop("NAND", "d", "a")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'bitop'"):
        r.execute_command("BITOP", "OR", "d")


def test_daily_uniques_use_case(r):
    days = {day: set(random.Random(day).sample(range(5000), 800)) for day in ("mon", "tue")}
    pipe = r.pipeline(transaction=False)
    for day, users in days.items():
        for user in users:
            pipe.setbit(f"active:{day}", user, 1)
    pipe.execute()
    assert r.bitcount("active:mon") == 800
    r.bitop("AND", "both", "active:mon", "active:tue")
    r.bitop("OR", "either", "active:mon", "active:tue")
    assert r.bitcount("both") == len(days["mon"] & days["tue"])
    assert r.bitcount("either") == len(days["mon"] | days["tue"])
    assert r.bitpos("both", 1) == min(days["mon"] & days["tue"])


# -- BITFIELD --------------------------------------------------------------------------

def test_bitfield_doc_examples(r):
    assert r.execute_command("BITFIELD", "k", "INCRBY", "i5", 100, 1, "GET", "u4", 0) == [1, 0]
    assert r.execute_command("BITFIELD", "c", "INCRBY", "u2", 100, 1, "OVERFLOW", "SAT",
                             "INCRBY", "u2", 102, 1) == [1, 1]
    for expected in ([2, 2], [3, 3], [0, 3]):
        assert r.execute_command("BITFIELD", "c", "INCRBY", "u2", 100, 1, "OVERFLOW", "SAT",
                                 "INCRBY", "u2", 102, 1) == expected
    assert r.execute_command("BITFIELD", "c", "OVERFLOW", "FAIL", "INCRBY", "u2", 102, 1) \
        == [None]


def test_bitfield_fail_reply_is_null_in_resp3(r3):
    r3.execute_command("BITFIELD", "k", "SET", "u2", 0, 3)
    assert r3.execute_command("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 1,
                              "GET", "u2", 0) == [None, 3]


def test_bitfield_ro_allows_only_get(r):
    r.set("k", b"\x80")
    assert r.execute_command("BITFIELD_RO", "k", "GET", "u1", 0) == [1]
    with pytest.raises(redis.ResponseError, match="^BITFIELD_RO only supports the GET"):
        r.execute_command("BITFIELD_RO", "k", "INCRBY", "u1", 0, 1)
    assert r.get("k") == b"\x80"


def test_bitfield_signed_and_unsigned_wrap_exhaustively(db):
    for width in (1, 3, 8):
        for signed in (True, False):
            kind = f"{'i' if signed else 'u'}{width}"
            low = -(1 << (width - 1)) if signed else 0
            span = 1 << width
            for start in range(low, low + span):
                for step in (-span - 1, -1, 1, span + 1):
                    db.execute("BITFIELD", "k", "SET", kind, 5, start)
                    got = db.execute("BITFIELD", "k", "INCRBY", kind, 5, step)[0]
                    assert got == (start + step - low) % span + low, (kind, start, step)


# -- WATCH and write detection ---------------------------------------------------------

def test_setbit_without_change_does_not_abort_watch(server, r):
    r.setbit("k", 3, 1)
    other = server.client()
    with r.pipeline() as pipe:
        pipe.watch("k")
        other.setbit("k", 3, 1)         # same bit: nothing changed
        pipe.multi()
        pipe.get("k")
        assert pipe.execute() == [b"\x10"]
    with r.pipeline() as pipe:
        pipe.watch("k")
        other.setbit("k", 4, 1)
        pipe.multi()
        pipe.get("k")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    other.close()


def test_bitop_destination_aborts_watch(server, r):
    r.set("a", "x")
    other = server.client()
    with r.pipeline() as pipe:
        pipe.watch("d")
        other.bitop("OR", "d", "a")
        pipe.multi()
        pipe.get("d")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    other.close()


# -- random operations against a model ------------------------------------------------

def test_random_against_model(db):
    rng = random.Random(7)
    model = bytearray()

    def bit(i):
        return (model[i >> 3] >> (7 - (i & 7))) & 1 if i >> 3 < len(model) else 0

    for _ in range(1500):
        offset = rng.randrange(0, 2000)
        on = rng.randrange(2)
        assert db.execute("SETBIT", "k", offset, on) == bit(offset)
        if offset >> 3 >= len(model):
            model.extend(bytes((offset >> 3) + 1 - len(model)))
        model[offset >> 3] &= ~(0x80 >> (offset & 7)) & 0xFF
        model[offset >> 3] |= on << (7 - (offset & 7))
        first, last = sorted(rng.randrange(0, len(model) * 8) for _ in range(2))
        bits = [bit(i) for i in range(first, last + 1)]
        assert db.execute("BITCOUNT", "k", first, last, "BIT") == sum(bits)
        for wanted in (0, 1):
            expected = first + bits.index(wanted) if wanted in bits else -1
            assert db.execute("BITPOS", "k", wanted, first, last, "BIT") == expected
    assert db.execute("GET", "k") == bytes(model)
    assert db.execute("BITCOUNT", "k") == sum(bin(b).count("1") for b in model)

"""GEO commands through redis-py (RESP2 and RESP3), raw RESP, Lua, the log and keyspace
notifications. Expected values are Redis 7.0.15's replies to the same commands."""

import random
import socket

import pytest
import redis

from alchemy import geohash
from test_log_rewrites import logged
from test_persistence import make_server, restart
from test_zsets import _read_some, raw

SICILY = [13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"]
NYC = [-73.9733487, 40.7648057, "central park n/q/r", -73.9903085, 40.7362513, "union square",
       -74.0131604, 40.7126674, "wtc one", -73.7858139, 40.6428986, "jfk",
       -73.9375699, 40.7498929, "q4", -73.9564142, 40.7480973, "4545",
       -73.9454966, 40.747533, "lic market"]


@pytest.fixture
def sicily(r):
    r.geoadd("Sicily", SICILY)
    return r


def error_of(r, *args) -> str:
    with pytest.raises(redis.ResponseError) as raised:
        r.execute_command(*args)
    return str(raised.value)


# -- GEOADD: a sorted set of geohash scores ------------------------------------------------

def test_geoadd_stores_a_sorted_set_of_geohashes(r):
    assert r.geoadd("nyc", NYC) == 7
    assert r.type("nyc") == b"zset"
    assert r.zrange("nyc", 0, -1, withscores=True) == [
        (b"wtc one", 1791873972053020), (b"union square", 1791875485187452),
        (b"central park n/q/r", 1791875761332224), (b"4545", 1791875796750882),
        (b"lic market", 1791875804419201), (b"q4", 1791875830079666),
        (b"jfk", 1791895905559723)]
    assert r.zrem("nyc", "jfk") == 1 and r.zcard("nyc") == 6


def test_geoadd_options(r):
    assert r.geoadd("nyc", [-73.9454966, 40.747533, "lic market"]) == 1
    assert r.geoadd("nyc", [-73.9454966, 40.747533, "lic market"]) == 0
    assert r.geoadd("nyc", [40.747533, -73.9454966, "lic market"], ch=True) == 1
    assert r.geoadd("nyc", [-73.9454966, 40.747533, "lic market"], nx=True) == 0
    assert r.geoadd("nyc", [-83.9454966, 40.747533, "new"], xx=True) == 0
    assert r.execute_command("GEOADD", "nyc", "ch", "XX", -73.9454966, 40.747533,
                             "lic market") == 1
    assert r.zscore("nyc", "lic market") == 1791875804419201
    assert r.zscore("nyc", "new") is None


@pytest.mark.parametrize("args, message", [
    (("xx", "nx", 1, 1, "m"), "syntax error"),
    (("ch", "foo", 1, 1, "m"), "syntax error"),
    ((1, 1, "m", 2, 2), "syntax error"),
    (("ch", "ch", "ch"), "syntax error"),
    ((1, 1, "m", "foo", "bar", "n"), "value is not a valid float"),
    ((1, "1e999", "m"), "value is not a valid float"),
    ((200, 100, "m"), "invalid longitude,latitude pair 200.000000,100.000000"),
    ((0, 85.06, "m"), "invalid longitude,latitude pair 0.000000,85.060000"),
    (("inf", 0, "m"), "invalid longitude,latitude pair inf,0.000000"),
])
def test_geoadd_errors(r, args, message):
    assert error_of(r, "GEOADD", "k", *args) == message
    assert not r.exists("k")


def test_geoadd_on_a_wrong_type_counts_as_a_failed_geoadd(r):
    r.set("s", "x")
    r.config_resetstat()
    assert error_of(r, "GEOADD", "s", 0, 0, "m").startswith("WRONGTYPE")
    stats = r.info("commandstats")
    assert stats["cmdstat_geoadd"]["failed_calls"] == 1
    assert "cmdstat_zadd" not in stats


# -- GEOPOS, GEODIST, GEOHASH ---------------------------------------------------------------

def test_geopos_geodist_geohash_exact_replies(server, sicily):
    assert raw(server, "GEOPOS", "Sicily", "Palermo", "nope") == (
        b"*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n")
    assert raw(server, "GEOPOS", "Sicily", "Palermo", "nope", resp3=True) == (
        b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n")
    for resp3 in (False, True):
        assert raw(server, "GEODIST", "Sicily", "Palermo", "Catania", "km",
                   resp3=resp3) == b"$8\r\n166.2742\r\n"
    assert raw(server, "GEODIST", "Sicily", "Palermo", "nope") == b"$-1\r\n"
    assert raw(server, "GEODIST", "Sicily", "Palermo", "nope", resp3=True) == b"_\r\n"
    assert raw(server, "GEOHASH", "Sicily", "Palermo", "nope", resp3=True) == (
        b"*2\r\n$11\r\nsqc8b49rny0\r\n_\r\n")


def test_coordinates_in_a_resp3_transaction(server, sicily):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"HELLO 3\r\nMULTI\r\nGEOPOS Sicily Palermo\r\nEXEC\r\n")
        reply = _read_some(sock)
    assert reply.endswith(b"+OK\r\n+QUEUED\r\n"
                          b"*1\r\n*1\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n")


def test_geodist_units(server, sicily):
    r = sicily
    assert r.geodist("Sicily", "Palermo", "Catania") == 166274.1516
    assert r.geodist("Sicily", "Palermo", "Catania", "km") == 166.2742
    assert r.geodist("Sicily", "Palermo", "Catania", "mi") == 103.3182
    assert r.geodist("Sicily", "Palermo", "Catania", "ft") == 545518.8700
    assert raw(server, "GEODIST", "Sicily", "Palermo", "Palermo") == b"$6\r\n0.0000\r\n"
    assert r.geodist("Sicily", "Palermo", "nope") is None
    assert r.geodist("nokey", "Palermo", "Catania") is None
    assert error_of(r, "GEODIST", "Sicily", "Palermo", "Catania", "yd") == (
        "unsupported unit provided. please use M, KM, FT, MI")
    assert error_of(r, "GEODIST", "Sicily", "a", "b", "m", "x") == "syntax error"


def test_geohash_and_geopos(r):
    r.geoadd("points", [-5.6, 42.6, "test", 10, 20, "a"])
    assert r.geohash("points", "test", "nope", "a") == ["ezs42e44yx0", None, "s5x1g8cu2y0"]
    assert r.geohash("nokey", "test") == [None]
    (lon, lat), missing = r.geopos("points", "a", "nope")
    assert abs(lon - 10) < 1e-5 and abs(lat - 20) < 1e-5 and missing is None
    assert r.geopos("nokey", "a") == [None]


def test_scores_no_geoadd_wrote_decode_as_in_redis(r):
    r.zadd("weird", {"a": -5, "b": 1e20, "c": 2**52, "d": 1.5, "e": float("-inf")})
    replied = [(b"180", b"85.0511287799999991"),
               (b"-179.99999731779098511", b"-85.05112751263942528"),
               (b"-179.99999731779098511", b"85.0511287799999991"),
               (b"-179.99999731779098511", b"-85.05112497791824921"),
               (b"180", b"-85.05112751263942528")]
    assert r.geopos("weird", "a", "b", "c", "d", "e") == [
        (float(lon), float(lat)) for lon, lat in replied]
    assert r.geohash("weird", "b", "d") == ["00bh0hbj200", "00bh0hbj210"]


# -- searches -------------------------------------------------------------------------------

def test_georadius_replies(server, sicily):
    command = ("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD",
               "WITHHASH", "ASC")
    assert raw(server, *command) == (
        b"*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n"
        b"*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n"
        b"*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n"
        b"*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n")
    assert raw(server, *command, resp3=True) == (
        b"*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n"
        b"*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n"
        b"*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n"
        b"*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n")


def test_georadius_order_count_and_any(r):
    r.geoadd("nyc", NYC)
    args = ("GEORADIUS", "nyc", -73.9798091, 40.7598464)
    assert r.execute_command(*args, 3, "km", "ASC") == [
        b"central park n/q/r", b"4545", b"union square"]
    assert r.execute_command(*args, 3, "km", "WITHDIST", "ASC") == [
        [b"central park n/q/r", b"0.7750"], [b"4545", b"2.3651"], [b"union square", b"2.7697"]]
    assert r.execute_command(*args, 10, "km", "COUNT", 3) == [
        b"central park n/q/r", b"4545", b"union square"]
    assert r.execute_command(*args, 10, "km", "COUNT", 3, "ANY") == [
        b"wtc one", b"union square", b"central park n/q/r"]
    assert r.execute_command(*args, 10, "km", "COUNT", 3, "ANY", "ASC") == [
        b"central park n/q/r", b"union square", b"wtc one"]
    assert r.execute_command(*args, 10, "km", "COUNT", 2, "DESC") == [b"wtc one", b"q4"]
    assert r.execute_command("GEORADIUSBYMEMBER", "nyc", "wtc one", 7, "km", "WITHDIST") == [
        [b"wtc one", b"0.0000"], [b"union square", b"3.2544"],
        [b"central park n/q/r", b"6.7000"], [b"4545", b"6.1975"], [b"lic market", b"6.8969"]]
    assert r.execute_command("GEORADIUS_RO", "nyc", -73.9798091, 40.7598464, 3, "km",
                             "ASC") == [b"central park n/q/r", b"4545", b"union square"]


def test_geosearch_by_box_and_radius(r3):
    r3.geoadd("nyc", NYC)
    assert r3.geosearch("nyc", longitude=-73.9798091, latitude=40.7598464, width=6, height=6,
                        unit="km", sort="ASC", withdist=True) == [
        [b"central park n/q/r", 0.775], [b"4545", 2.3651], [b"union square", 2.7697],
        [b"lic market", 3.1991]]
    assert r3.geosearch("nyc", member="wtc one", width=14, height=14, unit="km") == [
        b"wtc one", b"union square", b"central park n/q/r", b"4545", b"lic market", b"q4"]
    assert r3.geosearch("nyc", member="wtc one", radius=3.3, unit="km", sort="DESC") == [
        b"union square", b"wtc one"]
    r3.geoadd("points", [179.5, 36, "point1", -179.5, 36, "point2"])
    assert r3.geosearch("points", longitude=-179, latitude=37, width=400, height=400,
                        unit="km", sort="ASC") == [b"point2", b"point1"]


def test_search_near_the_poles_and_from_huge_radiuses(r):
    r.geoadd("k1", [45, 65, "n1", -135, 85.05, "n2"])
    assert r.georadiusbymember("k1", "n1", 5009431, "m") == [b"n1", b"n2"]
    r.geoadd("users", [-47.271613776683807, -54.534504198047678, "user_000000"])
    assert len(r.georadius("users", 0, 0, 50000, "km", withcoord=True)) == 1


@pytest.mark.parametrize("args, message", [
    (("GEORADIUS", "Sicily", 15, 37, -1, "km"), "radius cannot be negative"),
    (("GEORADIUS", "Sicily", 15, 37, "x", "km"), "need numeric radius"),
    (("GEORADIUS", "Sicily", 15, 37, 1, "yd"),
     "unsupported unit provided. please use M, KM, FT, MI"),
    (("GEORADIUS", "Sicily", 15, 95, 1, "km"),
     "invalid longitude,latitude pair 15.000000,95.000000"),
    (("GEORADIUS", "Sicily", 15, 37, 1, "km", "COUNT"), "syntax error"),
    (("GEORADIUS", "Sicily", 15, 37, 1, "km", "COUNT", 0), "COUNT must be > 0"),
    (("GEORADIUS", "Sicily", 15, 37, 1, "km", "COUNT", "x"),
     "value is not an integer or out of range"),
    (("GEORADIUS", "Sicily", 15, 37, 1, "km", "ANY"), "the ANY argument requires COUNT argument"),
    (("GEORADIUS", "Sicily", 15, 37, 1, "km", "STORE"), "syntax error"),
    (("GEORADIUS", "Sicily", 15, 37, 1, "km", "STORE", "d", "WITHDIST"),
     "STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
    (("GEORADIUS_RO", "Sicily", 15, 37, 1, "km", "STORE", "d"), "syntax error"),
    (("GEORADIUSBYMEMBER", "Sicily", "nope", 1, "km"), "could not decode requested zset member"),
    (("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "FROMMEMBER", "Palermo", "BYRADIUS", 1, "km"),
     "syntax error"),
    (("GEOSEARCH", "Sicily", "BYBOX", 3, 3, "km", "ASC"),
     "exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"),
    (("geosearch", "Sicily", "FROMLONLAT", 15, 37, "ASC", "WITHDIST"),
     "exactly one of BYRADIUS and BYBOX can be specified for geosearch"),
    (("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "BYBOX", 1, 1, "km"),
     "syntax error"),
    (("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 1, -1, "km"),
     "height or width cannot be negative"),
    (("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 1, "x", "km"), "need numeric height"),
    (("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "STOREDIST"),
     "syntax error"),
    (("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "STORE", "d"),
     "syntax error"),
    (("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "WITHHASH"),
     "GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
])
def test_search_errors(sicily, args, message):
    assert error_of(sicily, *args) == message


def test_missing_or_wrong_source(r):
    r.set("str", "x")
    for key in ("str", "nokey"):
        calls = [("GEORADIUS", key, 1, 1, 1, "km"),
                 ("GEORADIUSBYMEMBER", key, "m", 1, "km"),
                 ("GEOSEARCH", key, "FROMMEMBER", "m", "BYBOX", 1, 1, "km"),
                 ("GEOSEARCHSTORE", "d", key, "FROMLONLAT", 0, 0, "BYRADIUS", 1, "km"),
                 ("GEORADIUS", key, 1, 1, 1, "km", "STORE", "d")]
        for args in calls:
            r.set("d", "old")
            if key == "str":
                assert error_of(r, *args).startswith("WRONGTYPE")
            else:
                store = "STORE" in args or args[0] == "GEOSEARCHSTORE"
                assert r.execute_command(*args) == (0 if store else [])
                assert r.exists("d") == (0 if store else 1)
    # Without the key, GEORADIUSBYMEMBER reads neither its member nor its radius.
    assert r.execute_command("GEORADIUSBYMEMBER", "nokey", "m", "x", "yd") == []


def test_store_and_storedist(sicily):
    r = sicily
    assert r.georadius("Sicily", 13.361389, 38.115556, 500, "km", store="d") == 2
    assert r.zrange("d", 0, -1, withscores=True) == r.zrange("Sicily", 0, -1, withscores=True)
    assert r.georadiusbymember("Sicily", "Catania", 500, "km", store_dist="d") == 2
    assert r.zrange("d", 0, -1, withscores=True) == [
        (b"Catania", 0.0), (b"Palermo", 166.27415156960032)]
    assert r.geosearchstore("d", "Sicily", longitude=13.361389, latitude=38.115556,
                            radius=500, unit="km", sort="DESC", count=1, storedist=True) == 1
    assert r.zrange("d", 0, -1, withscores=True) == [(b"Catania", 166.27416107465282)]
    assert r.geosearchstore("d", "Sicily", longitude=0, latitude=0, radius=1, unit="km") == 0
    assert not r.exists("d")


def test_command_keys_and_stats(server, r):
    assert raw(server, "COMMAND", "GETKEYS", "GEORADIUS", "a", "1", "1", "1", "km", "STORE",
               "b", "STOREDIST", "c") == b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    assert raw(server, "COMMAND", "GETKEYS", "GEOSEARCHSTORE", "a", "b", "FROMMEMBER", "m",
               "BYRADIUS", "1", "km") == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    movable = [(name, b"+movablekeys" in raw(server, "COMMAND", "INFO", name))
               for name in ("georadius", "georadiusbymember", "georadius_ro", "geosearch")]
    assert movable == [("georadius", True), ("georadiusbymember", True),
                       ("georadius_ro", False), ("geosearch", False)]
    r.config_resetstat()
    r.execute_command("EVAL", "return redis.call('geoadd', KEYS[1], 0, 0, 'bar')", 1, "g")
    stats = r.info("commandstats")
    assert stats["cmdstat_geoadd"]["calls"] == 1 and "cmdstat_zadd" not in stats


def test_in_process(db):
    assert db.execute("GEOADD", "Sicily", *SICILY) == 2
    assert db.execute("GEOPOS", "Sicily", "Palermo", "nope") == [
        [b"13.36138933897018433", b"38.11555639549629859"], None]
    assert db.execute("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", 200, "km",
                      "WITHDIST", "ASC") == [[b"Palermo", b"0.0000"], [b"Catania", b"166.2742"]]


def test_scripts_see_redis_replies(sicily):
    r = sicily
    assert r.eval("return redis.call('geopos', KEYS[1], 'Palermo')", 1, "Sicily") == [
        [b"13.36138933897018433", b"38.11555639549629859"]]
    assert r.eval("redis.setresp(3); local p = redis.call('geopos', KEYS[1], 'Palermo')[1]; "
                  "return {p[1].double > 13.36, redis.call('geodist', KEYS[1], 'Palermo', "
                  "'Catania')}", 1, "Sicily") == [1, b"166274.1516"]


def test_searches_find_every_point_inside(r):
    """Against a scan of every point with the same distance: the cells a search reads
    must hold each point inside the area (latitudes kept within ±70, as Redis's own
    fuzzy test does: the cell estimate is looser towards the poles)."""
    rnd = random.Random(7)
    points = {}
    args = []
    for i in range(3000):
        lon, lat = rnd.uniform(-180, 180), rnd.uniform(-70, 70)
        args += [lon, lat, f"p{i}"]
    r.geoadd("pts", args)
    for member, score in r.zrange("pts", 0, -1, withscores=True):
        points[member] = geohash.decode(score)
    for _ in range(30):
        lon, lat = rnd.uniform(-180, 180), rnd.uniform(-70, 70)
        radius = rnd.choice([rnd.uniform(10, 300), rnd.uniform(10, 5000)])
        width, height = rnd.uniform(10, 3000), rnd.uniform(10, 3000)
        for shape, found in (
                (geohash.Shape(lon, lat, 1000.0, radius),
                 r.geosearch("pts", longitude=lon, latitude=lat, radius=radius, unit="km")),
                (geohash.Shape(lon, lat, 1000.0, width=width, height=height),
                 r.geosearch("pts", longitude=lon, latitude=lat, width=width, height=height,
                             unit="km"))):
            expected = {m for m, (x, y) in points.items() if shape.distance_to(x, y) is not None}
            assert set(found) == expected


# -- notifications and the log -----------------------------------------------------------

def test_notifications(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    pubsub = server.client().pubsub()
    pubsub.psubscribe("__keyevent@0__:*")
    pubsub.subscribe("geo-test-end")
    try:
        for _ in range(2):
            assert pubsub.get_message(timeout=3)["type"] in ("psubscribe", "subscribe")
        r.geoadd("g", [13.361389, 38.115556, "Palermo"])
        r.geoadd("g", [13.361389, 38.115556, "Palermo"])  # no change, no event
        r.georadius("g", 13, 38, 100, "km", store="d")
        r.geosearchstore("e", "g", longitude=13, latitude=38, radius=100, unit="km")
        r.geosearchstore("e", "g", longitude=0, latitude=0, radius=1, unit="km")
        r.publish("geo-test-end", "")
        received = []
        while (message := pubsub.get_message(timeout=3))["channel"] != b"geo-test-end":
            received.append((message["channel"].split(b":", 1)[1], message["data"]))
        assert received == [(b"zadd", b"g"), (b"georadiusstore", b"d"),
                            (b"geosearchstore", b"e"), (b"del", b"e")]
    finally:
        pubsub.close()
        r.config_set("notify-keyspace-events", "")


def test_geoadd_is_logged_as_zadd_and_stores_as_they_ran(tmp_path):
    proc = make_server(tmp_path).start()
    try:
        r = proc.client()
        r.geoadd("g", SICILY, ch=True)
        r.geoadd("g", SICILY, nx=True)  # changes nothing: not logged
        r.execute_command("GEORADIUS", "g", 15, 37, 200, "km", "STOREDIST", "d")
        r.geosearch("g", member="Palermo", radius=1, unit="km")  # a read: not logged
        r.execute_command("GEORADIUS", "g", 15, 37, 1, "km")  # a write command, no write
        assert [argv for argv in logged(tmp_path) if argv[0] != b"SELECT"] == [
            [b"zadd", b"g", b"CH", b"3479099956230698", b"Palermo", b"3479447370796909",
             b"Catania"],
            [b"GEORADIUS", b"g", b"15", b"37", b"200", b"km", b"STOREDIST", b"d"]]
        before = {key: r.zrange(key, 0, -1, withscores=True) for key in (b"g", b"d")}
        r = restart(proc)
        assert {key: r.zrange(key, 0, -1, withscores=True) for key in (b"g", b"d")} == before
    finally:
        proc.stop()

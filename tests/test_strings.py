"""String commands: GET/SET and options, GETEX, counters, INCRBYFLOAT, ranges, LCS.

The *_CASES tables are sequences of (command, reply) recorded from Redis 7.0.15 through
redis-py over RESP3 with its reply conversions turned off; each is replayed through
redis-py against the server (RESP3, and RESP2 where maps arrive as flat arrays) and
through the in-process API. Separate tests cover TTLs, RESP3, redis-cli,
WATCH and a random check of LCS against a plain dynamic-programming model.
"""

import random
import time

import pytest
import redis

import alchemy


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def raw(server, request):
    """A client that hands back replies as they come off the wire, in RESP2 and RESP3."""
    client = server.client(protocol=request.param)
    client.response_callbacks.clear()
    client.flushall()
    yield client
    client.close()


def in_resp2(reply):
    """A recorded (RESP3) reply as RESP2 carries it: maps become flat arrays."""
    if isinstance(reply, dict):
        return [item for pair in reply.items() for item in map(in_resp2, pair)]
    if isinstance(reply, list):
        return [in_resp2(item) for item in reply]
    return reply


def run_redis_py(client, command):
    try:
        return client.execute_command(*command)
    except redis.ResponseError as error:
        return ("error", str(error))


def _as_recorded(reply):
    """An in-process reply in the shape the tables were recorded in (statuses as bytes)."""
    if isinstance(reply, str):
        return reply.encode()
    if isinstance(reply, list):
        return [_as_recorded(item) for item in reply]
    return reply


def run_inprocess(db, command):
    try:
        return _as_recorded(db.execute(*command))
    except alchemy.AlchemyError as error:
        message = error.message
        return ("error", message[4:] if message.startswith("ERR ") else message)


# -- golden tables ---------------------------------------------------------------------

SET_CASES = [
    (('SET', 'k', 'v', 'EX', 10, 'EX', 20), b'OK'),
    (('SET', 'k', 'v', 'PX', 10000, 'PX', 20000), b'OK'),
    (('SET', 'k', 'v', 'EX', 10, 'PX', 20), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'EX', 'abc', 'NX', 'XX'), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'EX', 'abc'), ('error', 'value is not an integer or out of range')),
    (('SET', 'k', 'v', 'NX', 'XX'), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'XX', 'NX'), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'nx', 'nx'), None),
    (('SET', 'k', 'v2', 'XX', 'XX'), b'OK'),
    (('GET', 'k'), b'v2'),
    (('SET', 'k', 'v', 'KEEPTTL', 'KEEPTTL'), b'OK'),
    (('SET', 'k', 'v', 'KEEPTTL', 'EX', 1), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'EX', 1, 'KEEPTTL'), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'PXAT', 1, 'KEEPTTL'), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'EX'), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'EX', 0), ('error', "invalid expire time in 'set' command")),
    (('SET', 'k', 'v', 'PX', -1), ('error', "invalid expire time in 'set' command")),
    (('SET', 'k', 'v', 'EXAT', 0), ('error', "invalid expire time in 'set' command")),
    (('SET', 'k', 'v', 'EX', '1.5'), ('error', 'value is not an integer or out of range')),
    (('SET', 'k', 'v', 'PX', 9223372036854775807), ('error', "invalid expire time in 'set' command")),
    (('SET', 'k', 'v', 'EX', 9223372036854775), ('error', "invalid expire time in 'set' command")),
    (('SET', 'k', 'v', 'EX', 9223372036854776), ('error', "invalid expire time in 'set' command")),
    (('SET', 'k', 'v', 'EXAT', 9223372036854776), ('error', "invalid expire time in 'set' command")),
    (('SET', 'k', 'v', 'EX', 9223372036854775808), ('error', 'value is not an integer or out of range')),
    (('SET', 'k', 'v3', 'GET', 'GET'), b'v'),
    (('SET', 'k', 'v4', 'NX', 'GET'), b'v3'),
    (('GET', 'k'), b'v3'),
    (('SET', 'k2', 'v2', 'XX', 'GET'), None),
    (('EXISTS', 'k2'), 0),
    (('SET', 'k2', 'v2', 'NX', 'GET'), None),
    (('GET', 'k2'), b'v2'),
    (('SET', 'k', 'v', 'PERSIST'), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'foo'), ('error', 'syntax error')),
    (('SET', 'k', 'v', 'EXAT', 1), b'OK'),
    (('EXISTS', 'k'), 0),
    (('SET', 'k', 'v', 'PXAT', 1, 'GET'), None),
    (('EXISTS', 'k'), 0),
    (('SADD', 's', 'a'), 1),
    (('SET', 's', 'v', 'GET'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('SET', 's', 'v', 'NX', 'GET'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('SET', 's', 'v', 'XX'), b'OK'),
    (('GET', 's'), b'v'),
    (('SET', 's', 'v'), b'OK'),
    (('GET', 's'), b'v'),
    (('SET', 'e', ''), b'OK'),
    (('GET', 'e'), b''),
    (('SET', 'bin', b'a\x00b\xff'), b'OK'),
    (('GET', 'bin'), b'a\x00b\xff'),
    (('STRLEN', 'bin'), 4),
]

GETEX_AND_FRIENDS_CASES = [
    (('SET', 'k', 'v'), b'OK'),
    (('GETEX', 'k'), b'v'),
    (('GETEX', 'k', 'PERSIST', 'EX', 10), ('error', 'syntax error')),
    (('GETEX', 'k', 'EX', 10, 'PERSIST'), ('error', 'syntax error')),
    (('GETEX', 'k', 'EX', 10, 'EX', 20), b'v'),
    (('GETEX', 'k', 'PERSIST', 'PERSIST'), b'v'),
    (('TTL', 'k'), -1),
    (('GETEX', 'k', 'KEEPTTL'), ('error', 'syntax error')),
    (('GETEX', 'k', 'NX'), ('error', 'syntax error')),
    (('GETEX', 'k', 'GET'), ('error', 'syntax error')),
    (('GETEX', 'k', 'EX', 'x'), ('error', 'value is not an integer or out of range')),
    (('GETEX', 'nokey', 'EX', 'x'), None),
    (('GETEX', 'nokey', 'FOO'), ('error', 'syntax error')),
    (('GETEX', 'k', 'EX', 0), ('error', "invalid expire time in 'getex' command")),
    (('GETEX', 'k', 'PX'), ('error', 'syntax error')),
    (('GETEX', 'k', 'EX', 9223372036854776), ('error', "invalid expire time in 'getex' command")),
    (('GETEX', 'k', 'PXAT', 1), b'v'),
    (('EXISTS', 'k'), 0),
    (('SADD', 's2', 'a'), 1),
    (('GETEX', 's2'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('GETEX', 's2', 'EX', 'x'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('GETEX', 's2', 'FOO'), ('error', 'syntax error')),
    (('SETEX', 'k', 0, 'v'), ('error', "invalid expire time in 'setex' command")),
    (('SETEX', 'k', -5, 'v'), ('error', "invalid expire time in 'setex' command")),
    (('SETEX', 'k', 'x', 'v'), ('error', 'value is not an integer or out of range')),
    (('PSETEX', 'k', 0, 'v'), ('error', "invalid expire time in 'psetex' command")),
    (('SETEX', 'k', 9223372036854776, 'v'), ('error', "invalid expire time in 'setex' command")),
    (('EXISTS', 'k'), 0),
    (('SETNX', 'k', 'x'), 1),
    (('SETNX', 'k', 'y'), 0),
    (('GET', 'k'), b'x'),
    (('SETNX', 's2', 'y'), 0),
    (('GETSET', 'k', 'z'), b'x'),
    (('GETSET', 's2', 'y'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('GETSET', 'nn', 'y'), None),
    (('GET', 'nn'), b'y'),
    (('GETDEL', 'nn'), b'y'),
    (('GETDEL', 'nn'), None),
    (('EXISTS', 'nn'), 0),
    (('GETDEL', 's2'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('MSET', 'a', 1, 'b'), ('error', "wrong number of arguments for 'mset' command")),
    (('MSET', 'a', 1, 'b', 2), b'OK'),
    (('MSET', 'a', 3, 'a', 4), b'OK'),
    (('MGET', 'a', 'b', 's2', 'zz'), [b'4', b'2', None, None]),
    (('MSETNX', 'a', 1, 'c', 3), 0),
    (('MSETNX', 'c', 3, 'd', 4), 1),
    (('MSETNX', 'c'), ('error', "wrong number of arguments for 'msetnx' command")),
    (('MSETNX', 'c', 5, 'c', 6), 0),
    (('MGET', 'c', 'd'), [b'3', b'4']),
    (('MSETNX', 'x', '1', 'x', '2'), 1),
    (('GET', 'x'), b'2'),
    (('APPEND', 'ap', 'x'), 1),
    (('APPEND', 'ap', 'yz'), 3),
    (('APPEND', 'ap', ''), 3),
    (('GET', 'ap'), b'xyz'),
    (('APPEND', 's2', 'x'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('STRLEN', 'ap'), 3),
    (('STRLEN', 's2'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('STRLEN', 'nokey'), 0),
    (('SET', 'n', 12345), b'OK'),
    (('APPEND', 'n', '6'), 6),
    (('INCR', 'n'), 123457),
]

RANGE_CASES = [
    (('SET', 'r', 'Hello World'), b'OK'),
    (('GETRANGE', 'r', 0, 4), b'Hello'),
    (('GETRANGE', 'r', -5, -1), b'World'),
    (('GETRANGE', 'r', -1, -5), b''),
    (('GETRANGE', 'r', 5, 2), b''),
    (('GETRANGE', 'r', -100, 100), b'Hello World'),
    (('GETRANGE', 'r', 0, -100), b'H'),
    (('GETRANGE', 'r', 'x', 1), ('error', 'value is not an integer or out of range')),
    (('GETRANGE', 'nokey', 0, 1), b''),
    (('GETRANGE', 'nokey', 'a', 1), ('error', 'value is not an integer or out of range')),
    (('SUBSTR', 'r', 0, 2), b'Hel'),
    (('GETRANGE', 'r', 3, 3), b'l'),
    (('SET', 'em', ''), b'OK'),
    (('GETRANGE', 'em', 0, -1), b''),
    (('GETRANGE', 'r', 9223372036854775807, -9223372036854775808), b''),
    (('GETRANGE', 'r', -9223372036854775808, 9223372036854775807), b'Hello World'),
    (('SADD', 's', 'a'), 1),
    (('GETRANGE', 's', 0, 1), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('SETRANGE', 'sr', 5, 'x'), 6),
    (('GET', 'sr'), b'\x00\x00\x00\x00\x00x'),
    (('SETRANGE', 'sr', 0, 'ab'), 6),
    (('GET', 'sr'), b'ab\x00\x00\x00x'),
    (('SETRANGE', 'sr', 0, ''), 6),
    (('SETRANGE', 'nk', 0, ''), 0),
    (('SETRANGE', 'nk', 100, ''), 0),
    (('EXISTS', 'nk'), 0),
    (('SETRANGE', 'sr', -1, 'x'), ('error', 'offset is out of range')),
    (('SETRANGE', 'sr', 'x', 'x'), ('error', 'value is not an integer or out of range')),
    (('SETRANGE', 's', 0, 'x'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('SETRANGE', 's', 0, ''), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('SETRANGE', 'sr', 536870912, 'x'), ('error', 'string exceeds maximum allowed size (proto-max-bulk-len)')),
    (('SETRANGE', 'sr', 536870911, 'xy'), ('error', 'string exceeds maximum allowed size (proto-max-bulk-len)')),
    (('SETRANGE', 'nk2', 536870912, ''), 0),
    (('SETRANGE', 'nk2', 536870912, 'a'), ('error', 'string exceeds maximum allowed size (proto-max-bulk-len)')),
    (('SETRANGE', 'sr', 9223372036854775807, 'a'), ('error', 'string exceeds maximum allowed size (proto-max-bulk-len)')),
    (('SET', 'n', '12'), b'OK'),
    (('SETRANGE', 'n', 1, '9'), 2),
    (('INCR', 'n'), 20),
    (('SETRANGE', 'n', 6, '1'), 7),
    (('GET', 'n'), b'20\x00\x00\x00\x001'),
]

INTEGER_CASES = [
    (('SET', 'i', '10'), b'OK'),
    (('INCR', 'i'), 11),
    (('DECR', 'i'), 10),
    (('INCRBY', 'i', 5), 15),
    (('DECRBY', 'i', 3), 12),
    (('INCRBY', 'i', -20), -8),
    (('DECRBY', 'i', -20), 12),
    (('INCRBY', 'i', 'x'), ('error', 'value is not an integer or out of range')),
    (('INCRBY', 'i', '1.5'), ('error', 'value is not an integer or out of range')),
    (('INCRBY', 'i', ''), ('error', 'value is not an integer or out of range')),
    (('INCRBY', 'i', '9223372036854775808'), ('error', 'value is not an integer or out of range')),
    (('DECRBY', 'i', -9223372036854775808), ('error', 'decrement would overflow')),
    (('DECRBY', 'i', 9223372036854775807), -9223372036854775795),
    (('DECRBY', 'i', 9223372036854775807), ('error', 'increment or decrement would overflow')),
    (('SET', 'i', 9223372036854775807), b'OK'),
    (('INCR', 'i'), ('error', 'increment or decrement would overflow')),
    (('INCRBY', 'i', 0), 9223372036854775807),
    (('GET', 'i'), b'9223372036854775807'),
    (('SET', 'i', -9223372036854775808), b'OK'),
    (('DECR', 'i'), ('error', 'increment or decrement would overflow')),
    (('DECRBY', 'i', 1), ('error', 'increment or decrement would overflow')),
    (('INCRBY', 'i', -1), ('error', 'increment or decrement would overflow')),
    (('INCRBY', 'i', 9223372036854775807), -1),
    (('SET', 'i', 'abc'), b'OK'),
    (('INCR', 'i'), ('error', 'value is not an integer or out of range')),
    (('SET', 'i', ' 1'), b'OK'),
    (('INCR', 'i'), ('error', 'value is not an integer or out of range')),
    (('SET', 'i', '1 '), b'OK'),
    (('INCR', 'i'), ('error', 'value is not an integer or out of range')),
    (('SET', 'i', '+1'), b'OK'),
    (('INCR', 'i'), ('error', 'value is not an integer or out of range')),
    (('SET', 'i', '01'), b'OK'),
    (('INCR', 'i'), ('error', 'value is not an integer or out of range')),
    (('SET', 'i', '-0'), b'OK'),
    (('INCR', 'i'), ('error', 'value is not an integer or out of range')),
    (('SET', 'i', '9223372036854775808'), b'OK'),
    (('INCR', 'i'), ('error', 'value is not an integer or out of range')),
    (('SET', 'i', '1.0'), b'OK'),
    (('INCR', 'i'), ('error', 'value is not an integer or out of range')),
    (('SET', 'i', ''), b'OK'),
    (('INCR', 'i'), ('error', 'value is not an integer or out of range')),
    (('SET', 'i', '-1'), b'OK'),
    (('INCR', 'i'), 0),
    (('INCR', 'i'), 1),
    (('SADD', 's', 'a'), 1),
    (('INCR', 's'), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('DECRBY', 's', 1), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('INCRBYFLOAT', 's', 1), ('error', 'WRONGTYPE Operation against a key holding the wrong kind of value')),
    (('INCR', 'newi'), 1),
    (('DECRBY', 'newd', 5), -5),
    (('INCRBY', 'newe', -9223372036854775808), -9223372036854775808),
    (('DECR', 'newf'), -1),
]

FLOAT_CASES = [
    (('SET', 'f', '10.5'), b'OK'),
    (('INCRBYFLOAT', 'f', 0.1), b'10.6'),
    (('INCRBYFLOAT', 'f', -5), b'5.6'),
    (('INCRBYFLOAT', 'f', '5.0e3'), b'5005.60000000000000009'),
    (('INCRBYFLOAT', 'f', '2.0e-3'), b'5005.60199999999999987'),
    (('INCRBYFLOAT', 'f', 'x'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', 'inf'), ('error', 'increment would produce NaN or Infinity')),
    (('INCRBYFLOAT', 'f', '-inf'), ('error', 'increment would produce NaN or Infinity')),
    (('INCRBYFLOAT', 'f', 'nan'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', ' 1'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', '1 '), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', '0x10'), b'5021.60199999999999987'),
    (('INCRBYFLOAT', 'f', '+1'), b'5022.60199999999999987'),
    (('INCRBYFLOAT', 'f', '.5'), b'5023.10199999999999987'),
    (('INCRBYFLOAT', 'f', '5.'), b'5028.10199999999999987'),
    (('INCRBYFLOAT', 'f', '1e'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', '.'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', '1e4000'), b'9999999999999999999965463873099623784932492583506957631301508333043261943306342355481821641865509279862764452073123673540217602217367592344172125881950527999961428582434354754501870958214290741301143014670445026260849443456275333742340822559146220440774502699147116818307775566773571206492036312963397368761826079538161612036724681027980418945071857333802019573184376407974737742100582963439581302474746605828071068162266095350249109360981931695942123253872362355720717867859931997116967823535175344886417435948827492668424224514931596965124928426557313007272003654181606637829648718026332623445964659599411688673612401217012598120557489288735334437118479345590827013160426634334036145971611294094499267930097645158316924242084444005046275789316854264698962537519604804648202558831813320199082274810678546966662106272497006996186529202046612197927965030663016053612055682060855170989021069998476304668166868798327849305544516958630545705436267868123963090419840720786295093297923233166989307185493468005963513556052273926524815064535863034951177115665985606171666708242756198962303861871354719181381961379671761938984704505073921618907144272449828915839083978037993280452559586965504199368256134650271468844247174823646278663567437132739306516943311285144568895817811521270234335023202809923439313537168685792314272771667847310402459453149183490692769538329516243242927105447175974956565949859259880257266623432431660986751258600816348320837727852352371818896648343700947852991058969433541705132345122524048434688325138322933085183721655672137865396358471035067214167360617119527605272354771447437560932908789355181041081978971762346557568230767574027302293460544968752081768656824879994376355163920300385095919688678670907760987187661793434717175760350651419537956103182910121364884637262102263204295329279620360536203761315194554053188934218409316246410738656203852138992492444404026342210499619140876855921277988778676947892152806854950785068014727125536739702656962611964401436187934885803420611286745134838665415365691409110464038694668899344879845822942763373039719688602810444439928037135468898274565353630059446256169978689065593420848456038274366567225299549352683650770160551908116011723880315176381390821744087191159014840466408422036463264182928434780181167746977398743042449413105215463884123801578726746967721334558724520471115335862516435283282393832140500259762370795907195418122260308331006030210104962511689458912869480521025430134047382228141350554394390210188326863538753083190329578149617392735325345607293804019789613107204439729055324106921126322671020066709317012835936925695594694910121291991133040352454029415895421330627924576068200470892536792435143079137382774440346196002593999683669353176553680054317921648423581639781664231716459539510456753265337998256664529200852939049468855419289097785303294946449752258791882954794558753338748235175173730073178466259683916437044889075282877916869627991289792183586849679291189074136405526988632104737613205959150473631599616592564842952439858033179702368199753306698362201401506479407699236396521519654661597132309737381973903141889548031713181771968965861360007055846791276712592611475612847974647898601585527666227738929689128212619681144409905588974943980927948431950098268346459649230305689978542029932792436486452896735925004194782587516473457624352639480090109507295735020460456725638145957022317397784209033998721254961060890916634094880983552750508881669349308347772834504388303087113341878104141612215788330206835981183895501665502020020640589210848902416003156361626873160836225566347750269512599746786860171326806831029087653660341164708808802454022881699049392139574016756146192644415820839590797897050551922334947406004738872332042844089285302334417905996381190171610168845316435533461235902086067935935005063001450522174581772443096538389199989128731679326545348278957788061762018807017602515186853205589875909910708079333605047010115738478105476750550150020629864357825543441956972190272729951206648276349901340672'),
    (('INCRBYFLOAT', 'f', '1e5000'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', '-1e4000'), b'0'),
    (('INCRBYFLOAT', 'f', '1e-5000'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', '1e-4940'), b'0'),
    (('INCRBYFLOAT', 'f', 'infinity'), ('error', 'increment would produce NaN or Infinity')),
    (('SET', 'f', '0.1'), b'OK'),
    (('INCRBYFLOAT', 'f', '0.2'), b'0.3'),
    (('SET', 'f', '1'), b'OK'),
    (('INCRBYFLOAT', 'f', '-1'), b'0'),
    (('SET', 'f', '-0.0'), b'OK'),
    (('INCRBYFLOAT', 'f', '0'), b'0'),
    (('INCRBYFLOAT', 'f', '-0.0000000000000000001'), b'0'),
    (('INCRBYFLOAT', 'f', '-0.000000000000000006'), b'-0.00000000000000001'),
    (('SET', 'f', 'abc'), b'OK'),
    (('INCRBYFLOAT', 'f', 1), ('error', 'value is not a valid float')),
    (('SET', 'f', ''), b'OK'),
    (('INCRBYFLOAT', 'f', 1), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'nf', '3.0'), b'3'),
    (('INCRBYFLOAT', 'nf2', '1e20'), b'100000000000000000000'),
    (('INCRBYFLOAT', 'nf3', '1.23456789012345678901234'), b'1.23456789012345679'),
    (('INCRBYFLOAT', 'nf3', '1e-17'), b'1.2345678901234568'),
    (('SET', 'f', '1e308'), b'OK'),
    (('INCRBYFLOAT', 'f', '1e308'), b'199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096'),
    (('SET', 'f', '5'), b'OK'),
    (('INCRBYFLOAT', 'f', '0X1P-2'), b'5.25'),
    (('INCRBYFLOAT', 'f', '0x.8p1'), b'6.25'),
    (('INCRBYFLOAT', 'f', '0x1.8'), b'7.75'),
    (('INCRBYFLOAT', 'f', '0x'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', '0xg'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', 'INF'), ('error', 'increment would produce NaN or Infinity')),
    (('INCRBYFLOAT', 'f', '1_0'), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', ''), ('error', 'value is not a valid float')),
    (('INCRBYFLOAT', 'f', '1e+2'), b'107.75'),
    (('INCRBYFLOAT', 'f', '1E2'), b'207.75'),
    (('INCRBYFLOAT', 'f', '3.0000000000000000001'), b'210.75'),
    (('SET', 'f', '7'), b'OK'),
    (('INCRBYFLOAT', 'f', '1.5'), b'8.5'),
    (('INCR', 'f'), ('error', 'value is not an integer or out of range')),
    (('INCRBYFLOAT', 'g', '1.1'), b'1.1'),
    (('INCRBYFLOAT', 'g', '1.1'), b'2.2'),
    (('INCRBYFLOAT', 'g', '1.1'), b'3.3'),
    (('INCRBYFLOAT', 'g', '-3.3'), b'0'),
]

LCS_CASES = [
    (('SET', 'a', 'ohmytext'), b'OK'),
    (('SET', 'b', 'mynewtext'), b'OK'),
    (('LCS', 'a', 'b'), b'mytext'),
    (('LCS', 'a', 'b', 'LEN'), 6),
    (('LCS', 'a', 'b', 'IDX'), {b'matches': [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b'len': 6}),
    (('LCS', 'a', 'b', 'IDX', 'MINMATCHLEN', 4), {b'matches': [[[4, 7], [5, 8]]], b'len': 6}),
    (('LCS', 'a', 'b', 'IDX', 'MINMATCHLEN', 4, 'WITHMATCHLEN'), {b'matches': [[[4, 7], [5, 8], 4]], b'len': 6}),
    (('LCS', 'a', 'b', 'idx', 'withmatchlen'), {b'matches': [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b'len': 6}),
    (('LCS', 'a', 'b', 'LEN', 'IDX'), ('error', 'If you want both the length and indexes, please just use IDX.')),
    (('LCS', 'a', 'b', 'MINMATCHLEN'), ('error', 'syntax error')),
    (('LCS', 'a', 'b', 'MINMATCHLEN', 'x'), ('error', 'value is not an integer or out of range')),
    (('LCS', 'a', 'b', 'MINMATCHLEN', -5, 'IDX'), {b'matches': [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b'len': 6}),
    (('LCS', 'a', 'b', 'FOO'), ('error', 'syntax error')),
    (('LCS', 'a', 'nokey'), b''),
    (('LCS', 'a', 'nokey', 'IDX'), {b'matches': [], b'len': 0}),
    (('LCS', 'n1', 'n2', 'LEN'), 0),
    (('SADD', 's', 'x'), 1),
    (('LCS', 'a', 's'), ('error', 'The specified keys must contain string values')),
    (('LCS', 's', 'nokey', 'FOO'), ('error', 'The specified keys must contain string values')),
    (('LCS', 'a', 'b', 'WITHMATCHLEN'), b'mytext'),
    (('LCS', 'a', 'b', 'LEN', 'WITHMATCHLEN', 'MINMATCHLEN', 2), 6),
    (('LCS', 'a', 'a', 'IDX'), {b'matches': [[[0, 7], [0, 7]]], b'len': 8}),
    (('SET', 'c', 'xxohxxmy'), b'OK'),
    (('LCS', 'a', 'c', 'IDX', 'WITHMATCHLEN'), {b'matches': [[[2, 3], [6, 7], 2], [[0, 1], [2, 3], 2]], b'len': 4}),
    (('LCS', 'c', 'a', 'IDX'), {b'matches': [[[6, 7], [2, 3]], [[2, 3], [0, 1]]], b'len': 4}),
    (('SET', 'd', 'ACCGGTCGAGTGCGCGGAAGCCGGCCGAA'), b'OK'),
    (('SET', 'e', 'GTCGTTCGGAATGCCGTTGCTCTGTAAA'), b'OK'),
    (('LCS', 'd', 'e'), b'GTCGTCGGAAGCCGGCCGAA'),
    (('LCS', 'd', 'e', 'IDX', 'MINMATCHLEN', 2, 'WITHMATCHLEN'), {b'matches': [[[27, 28], [26, 27], 2], [[23, 24], [18, 19], 2], [[19, 22], [12, 15], 4], [[14, 18], [6, 10], 5], [[9, 10], [3, 4], 2], [[4, 6], [0, 2], 3]], b'len': 20}),
]

GOLDEN = {"set": SET_CASES, "getex_and_friends": GETEX_AND_FRIENDS_CASES,
          "ranges": RANGE_CASES, "integers": INTEGER_CASES, "floats": FLOAT_CASES,
          "lcs": LCS_CASES}


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_redis_py(raw, name):
    resp2 = raw.get_connection_kwargs().get("protocol") == 2
    for command, expected in GOLDEN[name]:
        assert run_redis_py(raw, command) == (in_resp2(expected) if resp2 else expected), \
            command


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_inprocess(db, name):
    for command, expected in GOLDEN[name]:
        assert run_inprocess(db, command) == expected, command


def test_counters_keep_their_own_numbers(r):
    """The counter INCR stored last is not read back: keys incremented in turn, a copy of
    it and an overwrite of it must each count from their own value."""
    assert r.incr("a") == 1
    assert r.incrby("b", 5) == 5
    assert r.incr("a") == 2
    assert r.copy("a", "c")
    assert r.incr("a") == 3
    assert r.decr("c") == 1
    assert r.incrby("c", 40) == 41
    assert r.mget("a", "b", "c") == [b"3", b"5", b"41"]
    r.set("c", "7")
    assert r.incr("c") == 8
    r.set("c", "x")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("c")
    r.set("c", "9223372036854775806")
    assert r.incr("c") == 9223372036854775807
    with pytest.raises(redis.ResponseError, match="overflow"):
        r.incr("c")


# -- expiry options --------------------------------------------------------------------

def test_set_expire_options(r):
    assert r.set("k", "v", ex=100) is True
    assert 99 <= r.ttl("k") <= 100
    assert r.set("k", "v", px=50_000) is True
    assert 49_000 < r.pttl("k") <= 50_000
    assert r.set("k", "v", exat=int(time.time()) + 200) is True
    assert 198 <= r.ttl("k") <= 200
    assert r.set("k", "v", pxat=int(time.time() * 1000) + 300_000) is True
    assert 298 <= r.ttl("k") <= 300
    assert r.execute_command("SET", "k", "v", "EX", "10", "EX", "20") is True
    assert 19 <= r.ttl("k") <= 20   # a repeated option: the last one wins


def test_set_keepttl_and_plain_set_clears_ttl(r):
    r.set("k", "v", ex=100)
    r.set("k", "w", keepttl=True)
    assert 99 <= r.ttl("k") <= 100
    assert r.get("k") == b"w"
    r.set("k", "x")
    assert r.ttl("k") == -1


def test_set_with_deadline_in_the_past_leaves_no_key(r):
    assert r.set("k", "v", pxat=1) is True
    assert r.get("k") is None
    assert r.exists("k") == 0


def test_setex_psetex(r):
    assert r.execute_command("SETEX", "k", 100, "v") is True
    assert 99 <= r.ttl("k") <= 100
    assert r.execute_command("PSETEX", "k", 5000, "w") is True
    assert 4000 < r.pttl("k") <= 5000
    assert r.get("k") == b"w"


def test_getex(r):
    r.set("k", "v")
    assert r.getex("k", ex=100) == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert r.getex("k", persist=True) == b"v"
    assert r.ttl("k") == -1
    assert r.getex("k", px=20_000) == b"v"
    assert 19_000 < r.pttl("k") <= 20_000
    assert r.getex("k") == b"v"
    assert 19_000 < r.pttl("k") <= 20_000
    assert r.getex("k", exat=1) == b"v"   # already past: the key goes at once
    assert r.exists("k") == 0
    assert r.getex("k", ex=10) is None


def test_ttl_kept_by_writes_in_place(r):
    for command in (("APPEND", "k", "x"), ("SETRANGE", "k", 5, "y"), ("INCR", "n"),
                    ("INCRBYFLOAT", "f", "1.5")):
        key = command[1]
        r.set(key, "1", ex=100)
        r.execute_command(*command)
        assert 99 <= r.ttl(key) <= 100, command


def test_getset_and_getdel_clear_ttl(r):
    r.set("k", "v", ex=100)
    assert r.getset("k", "w") == b"v"
    assert r.ttl("k") == -1
    r.set("k", "v", ex=100)
    assert r.getdel("k") == b"v"
    assert r.ttl("k") == -2


def test_mset_clears_ttl_of_the_keys_it_writes(r):
    r.set("k", "v", ex=100)
    r.set("other", "v", ex=100)
    assert r.mset({"k": "w", "fresh": "x"}) is True
    assert (r.get("k"), r.ttl("k"), r.get("fresh")) == (b"w", -1, b"x")
    assert r.ttl("other") > 0


# -- other entry points ----------------------------------------------------------------

def test_resp3_replies(server, r3):
    r3.response_callbacks.clear()
    assert r3.execute_command("SET", "a", "ohmytext") == b"OK"
    r3.set("b", "mynewtext")
    assert r3.execute_command("LCS", "a", "b", "IDX", "WITHMATCHLEN") == {
        b"matches": [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b"len": 6}
    assert r3.execute_command("INCRBYFLOAT", "f", "0.1") == b"0.1"
    assert r3.execute_command("SET", "a", "x", "GET") == b"ohmytext"
    assert r3.execute_command("SET", "a", "x", "NX") is None


def test_cli_path(server, r):
    assert server.cli("SET", "f", "0.1").strip() == "OK"
    assert server.cli("INCRBYFLOAT", "f", "0.2").strip() == "0.3"
    assert server.cli("SET", "a", "ohmytext").strip() == "OK"
    assert server.cli("SET", "b", "mynewtext").strip() == "OK"
    assert server.cli("LCS", "a", "b").strip() == "mytext"
    assert server.cli("LCS", "a", "b", "LEN").strip() == "6"
    assert server.cli("LCS", "a", "a", "IDX").split() == ["matches", "0", "7", "0", "7",
                                                          "len", "8"]
    assert server.cli("INCR", "a").strip() == "ERR value is not an integer or out of range"


def test_writes_abort_watch_and_failed_ones_do_not(server, r):
    other = server.client()
    r.set("k", "1")
    for command, aborts in ((("INCR", "k"), True), (("SET", "k", "v", "NX"), False),
                            (("APPEND", "k", "x"), True), (("GETEX", "k"), False),
                            (("SETRANGE", "k", 0, "z"), True), (("INCR", "k"), False)):
        with r.pipeline() as pipe:
            pipe.watch("k")
            try:
                other.execute_command(*command)
            except redis.ResponseError:
                pass
            pipe.multi()
            pipe.get("k")
            if aborts:
                with pytest.raises(redis.WatchError):
                    pipe.execute()
            else:
                assert pipe.execute() == [r.get("k")], command
    other.close()


def test_string_limit_follows_proto_max_bulk_len(r):
    r.config_set("proto-max-bulk-len", "1mb")
    try:
        limit = 1024 * 1024
        assert r.setrange("k", limit - 1, "x") == limit
        with pytest.raises(redis.ResponseError, match=r"^string exceeds maximum allowed size"):
            r.append("k", "y")
        with pytest.raises(redis.ResponseError, match=r"^string exceeds maximum allowed size"):
            r.setrange("k", limit, "y")
        with pytest.raises(redis.ResponseError, match="^Insufficient memory, transient memory "
                                                      "for LCS exceeds proto-max-bulk-len$"):
            r.execute_command("LCS", "k", "k")
    finally:
        r.config_set("proto-max-bulk-len", "512mb")


# -- LCS against a model ---------------------------------------------------------------

def lcs_model(a: bytes, b: bytes, min_len: int) -> tuple[bytes, list, int]:
    """The textbook table, walked back from the end: on a mismatch step to the larger of
    the two neighbours, preferring to drop from b on a tie; a run of diagonal steps is one
    match range, reported from the end of the strings backwards."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = (table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1]
                           else max(table[i - 1][j], table[i][j - 1]))
    common, ranges, run = bytearray(), [], []
    i, j = len(a), len(b)
    while i > 0 and j > 0:
        if a[i - 1] == b[j - 1]:
            common.append(a[i - 1])
            run.append((i - 1, j - 1))
            i, j = i - 1, j - 1
            if i and j:
                continue
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
        if run:
            if len(run) >= min_len:
                ranges.append([[run[-1][0], run[0][0]], [run[-1][1], run[0][1]], len(run)])
            run = []
    return bytes(reversed(common)), ranges, table[len(a)][len(b)]


def test_lcs_random_against_model(db):
    rng = random.Random(11)
    for _ in range(300):
        a = bytes(rng.choice(b"abcd") for _ in range(rng.randrange(0, 40)))
        b = bytes(rng.choice(b"abc") for _ in range(rng.randrange(0, 40)))
        min_len = rng.randrange(0, 4)
        db.execute("MSET", "a", a, "b", b)
        common, ranges, length = lcs_model(a, b, min_len)
        assert db.execute("LCS", "a", "b") == common
        assert db.execute("LCS", "a", "b", "LEN") == length
        assert db.execute("LCS", "a", "b", "IDX", "MINMATCHLEN", min_len, "WITHMATCHLEN") \
            == {b"matches": ranges, b"len": length}


@pytest.mark.parametrize("increment", [b"1e999999999", b"0x1p99999999999999999999",
                                       b"1e" + b"9" * 5000, b"1e-999999999"])
def test_incrbyfloat_refuses_absurd_exponents_at_once(r, increment):
    start = time.monotonic()
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.incrbyfloat("n", increment)
    assert time.monotonic() - start < 5
    assert r.incrbyfloat("n", "1e4000") > 1e300  # huge but in long double range

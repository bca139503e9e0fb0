"""Row encoding round trips: every type, NULLs, sparse rows, compression with a dictionary."""

import random

from alchemy.storage import rowcodec
from alchemy.storage.rowcodec import RowCodec


def test_round_trip_every_type():
    codec = RowCodec("ifsb")
    for values in ([0, 0.0, "", b""], [2**63 - 1, -1.5, "héllo", b"\x00\xff"],
                   [-2**63, float("inf"), "x" * 63, b"y" * 64], [None, None, None, None],
                   [127, 1e300, "t" * 5000, bytes(range(256)) * 3], [-128, None, "a", None]):
        assert codec.decode(codec.encode(values)) == values


def test_small_integers_are_small():
    codec = RowCodec("i")
    assert len(codec.encode([5])) == 2
    assert len(codec.encode([1000])) == 3
    assert len(codec.encode([None])) == 1


def test_sparse_rows_are_chosen_when_smaller():
    codec = RowCodec("s" * 200)
    values = [None] * 200
    values[17] = "x"
    values[150] = "yz"
    row = codec.encode(values)
    assert row[0] == rowcodec.SPARSE and len(row) < 20
    assert codec.decode(row) == values
    dense = ["v"] * 200
    assert codec.decode(codec.encode(dense)) == dense


def test_dictionary_trained_after_enough_samples(monkeypatch):
    monkeypatch.setattr(rowcodec, "TRAIN_SAMPLES", 300)
    codec = RowCodec("is")
    rng = random.Random(1)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    texts = [" ".join(rng.choice(words) for _ in range(20)) for _ in range(600)]
    rows = [codec.encode([i, t]) for i, t in enumerate(texts)]
    assert codec.dictionary is not None
    assert [codec.decode(r) for r in rows] == [[i, t] for i, t in enumerate(texts)]
    late = rows[-100:]
    assert all(r[1 + r[0]] == 0x12 for r in late)  # the dictionary frame tag
    assert sum(map(len, late)) < sum(len(t) for t in texts[-100:]) / 2
    # A codec rebuilt from the stored dictionary reads the same rows.
    again = RowCodec("is", codec.dictionary)
    assert again.decode(rows[-1]) == [599, texts[-1]]


def test_short_texts_take_one_tag_byte_whatever_their_characters():
    codec = RowCodec("ss")
    assert codec.encode(["abc", ""]) == b"\x43abc\x40"
    assert codec.encode(["é" * 20, "x" * 63]) == bytes([0x40 + 40]) + "é".encode() * 20 \
        + b"\x7f" + b"x" * 63
    for text in ("é" * 40, "x" * 64):  # 80 and 64 bytes: the long form
        assert codec.encode([text, None])[0] in (0x10, 0x11)
        assert codec.decode(codec.encode([text, None])) == [text, None]


def test_skipped_columns_read_as_none_and_the_others_as_stored():
    codec = RowCodec("ifsbs")
    rows = [[7, 2.5, "abc", b"\x00", "z"], [-2**63, None, "t" * 5000, b"y" * 70, None],
            [None, -0.0, "", None, "é" * 40], [300, 1e300, None, b"", "x" * 63]]
    for values in rows:
        encoded = codec.encode(values)
        for mask in range(32):
            wanted = [bool(mask >> i & 1) for i in range(5)]
            kinds = codec.skipping(wanted)
            assert codec.decode(encoded, (1,), kinds) == \
                [1] + [v if keep else None for v, keep in zip(values, wanted)]


def test_readers_read_what_decode_reads():
    """A reader made for a kinds string gives decode's values for every row: dense and
    sparse, NULLs, long and compressed texts, rows written before columns were added, rows
    read in place from the middle of a larger buffer."""
    rng = random.Random(5)
    codec = RowCodec("ifsbds")
    older = RowCodec("ifs")  # the rows of a table before three columns were added
    samples = {"i": [0, -1, 127, -2**63, 2**63 - 1, 300],
               "f": [0.0, -2.5, 1e300], "s": ["", "abc", "é" * 40, "x" * 63, "w" * 3000],
               "b": [b"", b"\x00\xff", b"y" * 70], "d": [b"\x81\xa1a\x01"]}
    rows = []
    for _ in range(300):
        values = [rng.choice(samples[k]) if rng.random() < 0.7 else None for k in codec.kinds]
        rows.append(codec.encode(values))
        rows.append(older.encode(values[:3]))
    rows.append(codec.encode([None] * 5 + ["z"]))  # sparse
    assert any(r[:1] == bytes([rowcodec.SPARSE]) for r in rows)
    for _ in range(40):
        wanted = [rng.random() < 0.6 for _ in codec.kinds]
        raw = [rng.random() < 0.5 for _ in codec.kinds]
        kinds = codec.skipping(wanted, raw)
        read = codec.reader(kinds)
        for row in rows:
            blob = b"\x7f\x01" + row + b"\x45\x02\x03"
            assert read(blob, (9,), 2, 2 + len(row)) == codec.decode(blob, (9,), kinds, 2,
                                                                     2 + len(row))
            assert read(row, (), 0, len(row)) == codec.decode(row, (), kinds)
    assert codec.reader()(rows[0], (), 0, len(rows[0])) == codec.decode(rows[0])
    sparse = rows[-1]
    assert codec.reader("--")(sparse, (), 0, len(sparse)) == codec.decode(sparse, (), "--")


def test_encoder_made_for_the_kinds_writes_what_encode_any_writes():
    rng = random.Random(7)
    makers = {
        "i": lambda: rng.choice([0, -1, 127, 128, -128, -129, 2**31, -2**63, 2**63 - 1,
                                 rng.randrange(-2**40, 2**40)]),
        "f": lambda: rng.choice([0.0, -2.5, 1e300, rng.random()]),
        "s": lambda: rng.choice(["", "a", "x" * 63, "x" * 64, "é", "ab" * 40,
                                 "".join(rng.choice("abé") for _ in range(rng.randrange(70)))]),
        "b": lambda: rng.choice([b"", b"\x00\xff", b"y" * 63, b"y" * 64]),
    }
    for kinds in ("i", "s", "iss", "sis", "ifsb", "ssff", "bsi", "iisi"):
        codec = RowCodec(kinds)
        for _ in range(300):
            values = [None if rng.random() < 0.1 else makers[k]() for k in kinds]
            assert codec.encode(values) == codec.encode_any(values), (kinds, values)
            assert codec.decode(codec.encode(values)) == values
    codec = RowCodec("is")
    codec.add_column("i")  # a column added later is encoded too
    assert codec.encode([1, "a", 2]) == codec.encode_any([1, "a", 2]) == b"\x01\x01\x41a\x01\x02"

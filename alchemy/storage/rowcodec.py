"""Rows as compact bytes: the non-key columns of one row, encoded per the table's schema.

Each column is one tag byte, then its data:

    0x00            NULL
    0x01..0x08      integer in that many bytes, little-endian, signed
    0x09            float, 8 bytes
    0x40+n          string of n < 64 bytes (TEXT as UTF-8, BLOB as is)
    0x10 len4       longer string
    0x11 len4       zstd-compressed string (plain frame)
    0x12 len4       zstd-compressed string (frame using the table's trained dictionary)

A sparse row (first byte 0xFF) lists only its non-NULL columns as (column number, tag, data);
a row is written sparse when that is smaller, which it is when most columns are NULL.

Strings of at least COMPRESS_MIN bytes are compressed when that saves space. Once a table has
gathered TRAIN_SAMPLES such strings it trains a zstd dictionary on them, so that the many
short, similar texts of one column compress well (a dictionary is what makes 100-byte texts
compressible at all). Rows written earlier keep their plain frames: the tag says which.

Readers are Python source written once per layout (`reader`); one of them (`wire_reader`)
reads a row of integers and short texts straight into the RESP array a point SELECT *
sends, the one place storage writes the wire format: a point query's reply is half its
cost, and the row's bytes already hold the texts as the reply carries them.
"""

import struct

import zstandard

from alchemy.storage.documents import Document

COMPRESS_MIN = 64
TRAIN_SAMPLES = 1000
DICT_SIZE = 16 * 1024
SPARSE = 0xFF

_DOUBLE = struct.Struct("<d")
_LEN = struct.Struct("<I")
_from_bytes = int.from_bytes
_WRAP = [1 << 8 * size for size in range(9)]  # an n-byte two's complement wraps at this
SKIP = "-"  # the kind of a column a reader does not need (RowCodec.skipping)
RAW = "r"  # a text column a reader takes as its UTF-8 bytes (RowCodec.skipping)
# Bytes a column takes, tag included, by its tag; 0 for the strings that give a length.
_WIDTHS = [1, *range(2, 10), 9] + [0] * (0x40 - 10) + [1 + n for n in range(0xC0)]


class RowCodec:
    """Encoder/decoder for rows of one schema; kinds per column: "i", "f", "s" (str), "b",
    "d" (a document: msgpack bytes, stored as a BLOB is and read back as a Document)."""

    def __init__(self, kinds: str, dictionary: bytes | None = None):
        self.kinds = kinds
        self.dictionary = dictionary
        self._samples: list[bytes] | None = [] if dictionary is None else None
        self._plain = zstandard.ZstdCompressor(level=3)
        self._plain_d = zstandard.ZstdDecompressor()
        self._with_dict = self._with_dict_d = None
        self._readers: dict = {}  # kinds -> decoder made for them (reader)
        self.encode = _encoder(kinds, self.encode_any)
        if dictionary is not None:
            self._load_dictionary(dictionary)

    def __getstate__(self) -> dict:
        # zstd (de)compressors cannot be pickled (snapshots): they are rebuilt on load.
        return {"kinds": self.kinds, "dictionary": self.dictionary, "samples": self._samples}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["kinds"], state["dictionary"])
        self._samples = state["samples"]

    def _load_dictionary(self, data: bytes) -> None:
        d = zstandard.ZstdCompressionDict(data)
        self._with_dict = zstandard.ZstdCompressor(level=3, dict_data=d)
        self._with_dict_d = zstandard.ZstdDecompressor(dict_data=d)
        self.dictionary = data

    # -- encoding ----------------------------------------------------------------------

    def encode_any(self, values: list) -> bytes:
        """The encoded row of values, one per column (what `encode`, the encoder made for
        this codec's kinds, gives for any row: it hands here the rows it does not encode
        itself)."""
        dense = bytearray()
        present = 0
        for kind, value in zip(self.kinds, values):
            if value is None:
                dense.append(0)
                continue
            present += 1
            if kind == "s" and len(value) < COMPRESS_MIN and value.isascii():
                # Short ASCII text, the usual column, inline (as decode does): its length in
                # characters is its length in bytes, and a call would cost as much as this.
                dense.append(0x40 + len(value))
                dense += value.encode()
            else:
                self._encode_value(dense, kind, value)
        if len(self.kinds) - present <= present + 1:
            return bytes(dense)
        sparse = bytearray((SPARSE,))
        for number, (kind, value) in enumerate(zip(self.kinds, values)):
            if value is not None:
                sparse += number.to_bytes(2, "little")
                self._encode_value(sparse, kind, value)
        return bytes(sparse if len(sparse) < len(dense) else dense)

    def _encode_value(self, out: bytearray, kind: str, value) -> None:
        if kind == "i":
            size = ((value if value >= 0 else ~value).bit_length() + 8) // 8  # with sign bit
            out.append(size)
            out += value.to_bytes(size, "little", signed=True)
        elif kind == "f":
            out.append(9)
            out += _DOUBLE.pack(value)
        else:
            data = value.encode() if kind == "s" else value
            if len(data) < COMPRESS_MIN:
                out.append(0x40 + len(data))
                out += data
            else:
                self._encode_long(out, data)

    def _encode_long(self, out: bytearray, data: bytes) -> None:
        if self._samples is not None:
            self._samples.append(data)
            if len(self._samples) >= TRAIN_SAMPLES:
                self._train()
        if self._with_dict is not None:
            tag, packed = 0x12, self._with_dict.compress(data)
        else:
            tag, packed = 0x11, self._plain.compress(data)
        if len(packed) >= len(data):
            tag, packed = 0x10, data
        out.append(tag)
        out += _LEN.pack(len(packed))
        out += packed

    def _train(self) -> None:
        samples, self._samples = self._samples, None
        try:
            trained = zstandard.train_dictionary(DICT_SIZE, samples)
        except zstandard.ZstdError:
            return  # too little material to learn from: stay with plain frames
        self._load_dictionary(trained.as_bytes())

    # -- decoding ----------------------------------------------------------------------

    def skipping(self, wanted: list[bool], raw: list[bool] | None = None) -> str:
        """The kinds to decode with for a reader that needs only the columns marked in
        wanted: the others are passed over (read as None) without decoding their bytes.
        Text columns marked in raw are read as their UTF-8 bytes (a bytearray, or bytes
        when long), not decoded."""
        raw = raw or [False] * len(wanted)
        return "".join(SKIP if not keep else RAW if as_bytes and kind == "s" else kind
                       for kind, keep, as_bytes in zip(self.kinds, wanted, raw))

    def decode(self, row, head: tuple = (), kinds: str | None = None, pos: int = 0,
               end: int | None = None) -> list:
        """All columns of an encoded row, row[pos:end] (bytes or a bytearray: a leaf's
        blob is read in place, a slice would cost a third of a short row's decoding), as
        Python values, after the values of head (a row's key parts, which lead the row).
        With kinds from `skipping`, the columns it skips are not decoded: None (in a
        sparse row, decoded)."""
        if end is None:
            end = len(row)
        if pos < end and row[pos] == SPARSE:
            return [*head, *self._decode_sparse(row[pos:end])]
        values = [*head]
        append = values.append
        # Short texts and integers, the usual columns, are decoded inline: a method call
        # per column would cost as much as the decoding. An integer is read unsigned (a
        # keyword argument costs from_bytes half its time) and its sign applied after.
        for kind in kinds or self.kinds:
            if pos >= end:
                append(None)  # a column added after this row was written
                continue
            tag = row[pos]
            if tag >= 0x40 and kind == "s":
                stop = pos + tag - 0x3F
                append(row[pos + 1:stop].decode())
                pos = stop
            elif tag >= 0x40 and kind == RAW:
                stop = pos + tag - 0x3F
                append(row[pos + 1:stop])
                pos = stop
            elif kind == SKIP:
                pos += _WIDTHS[tag] or 5 + _LEN.unpack_from(row, pos + 1)[0]
                append(None)
            elif 0 < tag <= 8:
                stop = pos + 1 + tag
                value = _from_bytes(row[pos + 1:stop], "little")
                append(value if row[stop - 1] < 0x80 else value - _WRAP[tag])
                pos = stop
            else:
                value, pos = self._decode_value(row, pos, kind)
                append(value)
        return values

    def reader(self, kinds: str | None = None):
        """decode made for one kinds string (default: every column): (row, head, pos,
        end) -> what decode(row, head, kinds, pos, end) gives. Its steps, one per column,
        are written out in Python source once, so reading a row runs no loop and no test
        of a column's kind (a third of decode's cost for the rows of a join); a step
        reads the usual tags (short texts, integers, NULL) and hands anything else (a
        sparse row, a long or compressed text, a row shorter than kinds) to decode."""
        kinds = kinds or self.kinds
        read = self._readers.get(kinds)
        if read is None:
            read = self._readers[kinds] = _reader(kinds, self.decode, self._decode_value)
        return read

    def wire_reader(self, key_kind: str, picks: tuple | None = None):
        """(row, key, pos, end) -> the row as a RESP array, key first, for rows under a
        one-part key of key_kind whose columns are all integers, texts and BLOBs (None for
        any other table); with picks, the values at those row positions (the key is 0).
        What a point SELECT sends a network client, read straight from the stored bytes
        (see _wire_reader); a row it does not read itself gives b"" (DECLINED), and is
        read the general way."""
        wanted = (key_kind, self.kinds, picks)
        if wanted not in self._readers:
            self._readers[wanted] = _wire_reader(key_kind, self.kinds, picks) \
                if key_kind in "isb" and set(self.kinds) <= set("isb") else None
        return self._readers[wanted]

    def add_column(self, kind: str) -> None:
        self.kinds += kind
        self.encode = _encoder(self.kinds, self.encode_any)

    def _decode_sparse(self, row) -> list:
        values = [None] * len(self.kinds)
        pos = 1
        while pos < len(row):
            number = row[pos] | row[pos + 1] << 8
            values[number], pos = self._decode_value(row, pos + 2, self.kinds[number])
        return values

    def _decode_value(self, row, pos: int, kind: str):
        tag = row[pos]
        pos += 1
        if tag == 0:
            return None, pos
        if tag <= 8:
            return int.from_bytes(row[pos:pos + tag], "little", signed=True), pos + tag
        if tag == 9:
            return _DOUBLE.unpack_from(row, pos)[0], pos + 8
        if tag >= 0x40:
            end = pos + tag - 0x40
            data = row[pos:end]
        else:
            end = pos + 4 + _LEN.unpack_from(row, pos)[0]
            data = row[pos + 4:end]
            if tag == 0x11:
                data = self._plain_d.decompress(data)
            elif tag == 0x12:
                data = self._with_dict_d.decompress(data)
        if kind == "s":
            return data.decode(), end
        return (Document(data) if kind == "d" else bytes(data)), end


_TEXT_TAGS = tuple(chr(0x40 + n) for n in range(COMPRESS_MIN))  # a short string's tag
_BYTE_TAGS = tuple(bytes((0x40 + n,)) for n in range(COMPRESS_MIN))


def _encoder(kinds: str, slow):
    """RowCodec.encode: values (one per column) -> the encoded row, written out in Python
    source for kinds, so that a row runs no loop and no test of a column's kind (they cost
    twice what the encoding does). It encodes a dense row of integers, floats and short
    texts and BLOBs itself; a row holding a NULL, a long text or BLOB, or a text that is
    not ASCII goes to slow (RowCodec.encode_any), which gives the same bytes for the rows
    encoded here.

    An integer is its tag and value in one to_bytes (the tag as the low byte of value << 8).
    Texts side by side are one string, each after its tag as a character (0x40 + length,
    taken from a table of the short lengths' tags: a longer text or BLOB is an IndexError),
    encoded at once: the encoded length equals the string's exactly when every character
    is ASCII."""
    if not kinds:
        return slow
    names = [f"c{n}" for n in range(len(kinds))]
    lines = ["def encode(values):",
             f"    {', '.join(names)}, = values",
             f"    if {' or '.join(f'{c} is None' for c in names)}:",
             "        return slow(values)"]
    pieces, texts = [], []  # bytes expressions; the run of texts being gathered

    def end_texts() -> None:
        if texts:
            n = len(pieces)
            lines.extend([f"    t{n} = {' + '.join(texts)}",
                          f"    b{n} = t{n}.encode()",
                          f"    if len(b{n}) != len(t{n}):",
                          "        return slow(values)"])
            pieces.append(f"b{n}")
            texts.clear()

    for c, kind in zip(names, kinds):
        if kind == "s":
            texts.append(f"tags[len({c})] + {c}")
            continue
        end_texts()
        if kind == "i":
            n = f"n{c[1:]}"
            lines.append(f"    {n} = (({c} if {c} >= 0 else ~{c}).bit_length() + 8) >> 3")
            pieces.append(f'({c} << 8 | {n}).to_bytes({n} + 1, "little", signed=True)')
        elif kind == "f":
            pieces.append(f"b'\\x09' + double({c})")
        else:  # BLOBs and documents: their bytes as they are
            pieces.append(f"byte_tags[len({c})] + {c}")
    end_texts()
    body = lines[4:] + [f"    return {' + '.join(pieces)}"]
    lines[4:] = ["    try:", *("    " + line for line in body),
                 "    except IndexError:", "        return slow(values)"]
    scope = {"slow": slow, "double": _DOUBLE.pack, "tags": _TEXT_TAGS, "byte_tags": _BYTE_TAGS}
    exec(compile("\n".join(lines), f"<row encoder {kinds}>", "exec"), scope)
    return scope["encode"]


# The steps of a reader, per kind: each leaves the column's value in c<n> and moves p past
# it (the lines marked "next", left out after the last column read); "slow" is decode, for
# whatever the step does not read itself.
_SLOW = "return slow(row, head, kinds, pos, end)"
_STEPS = {
    SKIP: f"""
    w = widths[row[p]]
    if not w:
        {_SLOW}
    p += w""",
    RAW: f"""
    t = row[p]
    if t >= 0x40:
        c{{n}} = row[p + 1:p + t - 0x3F]
        p += t - 0x3F  # next
    elif t:
        {_SLOW}
    else:
        c{{n}} = None
        p += 1  # next""",
    "i": f"""
    t = row[p]
    if 0 < t <= 8:
        s = p + 1 + t
        c{{n}} = from_bytes(row[p + 1:s], "little")
        if row[s - 1] >= 0x80:
            c{{n}} -= wrap[t]
        p = s  # next
    elif t:
        {_SLOW}
    else:
        c{{n}} = None
        p += 1  # next""",
}
_STEPS["s"] = _STEPS[RAW].replace("0x3F]", "0x3F].decode()")
_OTHER = """
    c{n}, p = value(row, p, "{kind}")"""  # floats, BLOBs, documents: as decode reads them


def _reader(kinds: str, slow, value):
    """RowCodec.reader's function for kinds."""
    lines = ["def read(row, head, pos, end):",
             "    p = pos"]
    read = kinds.rstrip(SKIP)  # columns skipped at the end are None whatever they hold
    for n, kind in enumerate(read):
        lines.append(f"    if p >= end:\n        {_SLOW}")  # a column added since
        step = _STEPS.get(kind, _OTHER).format(n=n, kind=kind)
        if n == 0 and kind == SKIP:  # a sparse row's first byte has no width here
            step = step.replace("widths[", "first_widths[")
        elif n == 0:
            lines.append(f"    if row[p] == {SPARSE}:\n        {_SLOW}")
        if n == len(read) - 1:
            step = "\n".join(line for line in step.split("\n") if not line.endswith("# next"))
        lines.append(step)
    if not read:
        lines.append(f"    if p < end and row[p] == {SPARSE}:\n        {_SLOW}")
    values = ["None" if kind == SKIP else f"c{n}" for n, kind in enumerate(kinds)]
    lines.append(f"    return [*head, {', '.join(values)}]")
    scope = {"slow": slow, "value": value, "kinds": kinds, "widths": _WIDTHS,
             "first_widths": _WIDTHS[:SPARSE] + [0], "wrap": _WRAP, "from_bytes": _from_bytes}
    exec(compile("\n".join(lines), f"<row reader {kinds}>", "exec"), scope)
    return scope["read"]


# A wire reader's step per kind: it leaves the column's value in v<n> (a text as its bytes
# in the row) and moves p past it. Anything but an integer of 1-8 bytes or a text or BLOB
# of under 64 bytes (NULL, a sparse row, a long or compressed text) ends the read with
# DECLINED; so does a row shorter than kinds (a column added since), whose last step
# reads past its end.
DECLINED = b""
_WIRE_STEPS = {
    "i": """
    t = row[p]
    if not 0 < t <= 8:
        return b""
    s = p + 1 + t
    v{n} = from_bytes(row[p + 1:s], "little")
    if row[s - 1] >= 0x80:
        v{n} -= wrap[t]
    p = s""",
    "s": """
    t{n} = row[p]
    if not 0x40 <= t{n} < 0x80:
        return b""
    s = p + t{n} - 0x3F
    v{n} = row[p + 1:s]
    p = s""",
}
_WIRE_STEPS["b"] = _WIRE_STEPS["s"]
_WIRE_FORMATS = {"i": ":%d\\r\\n", "s": "$%d\\r\\n%b\\r\\n", "b": "$%d\\r\\n%b\\r\\n"}
_WIRE_KEYS = {"i": "key[0]", "s": "len(k), k", "b": "len(k), k"}


def _wire_reader(key_kind: str, kinds: str, picks: tuple | None):
    """RowCodec.wire_reader's function: its steps written out in Python source, as
    _reader's are, and the reply made with one bytes format. Every column is read, picked
    or not: a row it cannot read whole is the general way's."""
    lines = ["def wire(row, key, pos, end):", "    p = pos", "    try:"]
    for n, kind in enumerate(kinds):
        lines += ["    " + line for line in _WIRE_STEPS[kind].format(n=n).split("\n") if line]
    lines += ["    except IndexError:", '        return b""',
              "    if p != end:", '        return b""']
    picks = range(len(kinds) + 1) if picks is None else picks
    if 0 in picks and key_kind == "s":
        lines.append("    k = key[0].encode()")
    elif 0 in picks and key_kind == "b":
        lines.append("    k = key[0]")
    row_kinds = key_kind + kinds
    values = [_WIRE_KEYS[key_kind] if n == 0 else f"v{n - 1}" if row_kinds[n] == "i"
              else f"t{n - 1} - 0x40, v{n - 1}" for n in picks]
    form = f"*{len(picks)}\\r\\n" + "".join(_WIRE_FORMATS[row_kinds[n]] for n in picks)
    lines.append(f'    return b"{form}" % ({", ".join(values)})')
    scope = {"from_bytes": _from_bytes, "wrap": _WRAP}
    exec(compile("\n".join(lines), f"<wire reader {key_kind}{kinds}>", "exec"), scope)
    return scope["wire"]

#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into tests/fuzz/corpus/<target>/ (committed).

Run it again after a format change (journal.hpp, broadcast_ring.hpp, layout.hpp). The seeds
are small and mostly valid, so the fuzzer starts from inputs that reach deep. Inputs that
found a bug are kept beside them as regressions, named crash-<what>: the ones found by the
seeds below are written here; those libFuzzer found are copied in from its crash files.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


# ---- journal (journal.hpp, format version 2) ----
JOURNAL_MAGIC = 0x314C4E524A564545


def segment_header(first_seq, segment_bytes=4096):
    head = struct.pack("<QIIQQq20s", JOURNAL_MAGIC, 2, 64, first_seq, segment_bytes, 0, b"")
    return head + struct.pack("<I", crc32c(head))


def journal_record(seq, payload, meta=b"", type_=7):
    rest = struct.pack("<IIIQq", len(payload), type_, len(meta), seq, 1000 + seq)
    body = meta + payload
    crc = crc32c(rest + body)
    pad = (-len(body)) % 8
    return struct.pack("<I", crc) + rest + body + b"\0" * pad


def segment(first_seq, records):
    return segment_header(first_seq) + b"".join(records)


SPLIT = b"EVJSPLIT"
three = [journal_record(s, b"event %d" % s, b"cmd-%d" % s if s % 2 else b"") for s in (1, 2, 3)]
write("journal_recovery_fuzz", "empty-segment", segment_header(1))
write("journal_recovery_fuzz", "three-records", segment(1, three))
torn = bytearray(segment(1, three))
torn[-3] ^= 0xFF  # the last record's payload: a torn tail
write("journal_recovery_fuzz", "torn-tail", bytes(torn))
write("journal_recovery_fuzz", "cut-mid-record", segment(1, three)[:-5])
write("journal_recovery_fuzz", "two-segments",
      segment(1, three) + SPLIT + segment(4, [journal_record(4, b"four"), journal_record(5, b"")]))
bad_middle = bytearray(segment(1, three))
bad_middle[64 + 40] ^= 0x01
write("journal_recovery_fuzz", "bad-first-segment",
      bytes(bad_middle) + SPLIT + segment(4, [journal_record(4, b"four")]))
write("journal_recovery_fuzz", "wrong-seq", segment(1, [journal_record(1, b"a"), journal_record(3, b"c")]))
write("journal_recovery_fuzz", "big-meta", segment(1, [journal_record(1, b"p", b"m" * 255)]))

# ---- ring (broadcast_ring.hpp): flags, tail, intent, latest, then the data area ----


def ring_record(seq, payload, type_=1):
    length = 24 + len(payload)
    pad = (-length) % 8
    return struct.pack("<IIQq", length, type_, seq, 5) + payload + b"\0" * pad


def ring_input(flags, tail, intent, latest, area):
    return bytes([flags]) + struct.pack("<QQQ", tail, intent, latest) + area


records = b"".join(ring_record(s, b"x" * s) for s in range(1, 6))
write("ring_reader_fuzz", "five-records", ring_input(0, len(records), len(records) + 256, 0, records))
newest = 2 * 4096 + records.rfind(ring_record(5, b"x" * 5))
write("ring_reader_fuzz", "lapped",
      ring_input(0, 2 * 4096 + len(records), 2 * 4096 + len(records) + 256, newest, records))
# The reader looked for the newest record forever when the intent stayed a ring ahead of it.
write("ring_reader_fuzz", "crash-lapped-intent-far-ahead",
      ring_input(0, 3 * 4096, 3 * 4096 + 256, 2 * 4096, records))
# The reader spun forever on a first record that ran past the tail (found by libFuzzer).
write("ring_reader_fuzz", "crash-record-past-tail",
      ring_input(0, 64, 512, 0, ring_record(1, b"z" * 76)))
# A `latest` too near the end of the data area for a header (the reader now checks it).
write("ring_reader_fuzz", "latest-at-area-end",
      ring_input(0, 3 * 4096, 3 * 4096 + 64, 3 * 4096 - 8, records))
padding = struct.pack("<IIQq", 4096 - 4000, 0xFFFFFFFF, 0, 0)
wrapped = ring_record(1, b"y" * 40).ljust(4000, b"\0") + padding
write("ring_reader_fuzz", "padding", ring_input(0, 4096 + 64, 4096 + 512, 0, wrapped))
write("ring_reader_fuzz", "live", ring_input(1, len(records), len(records) + 256, 0, records))
# A padding committed as the protocol does (its commit word the seq after it, ring_protocol.hpp).
committed_padding = struct.pack("<IIQq", 4096 - 4000, 0xFFFFFFFF, 2, 0)
write("ring_reader_fuzz", "committed-padding",
      ring_input(0, 4096 + 64, 4096 + 512, 0,
                 ring_record(1, b"y" * 40).ljust(4000, b"\0") + committed_padding +
                 b"\0" * 8 + struct.pack("<Q", 2)))
# A transmitter publishing between polls, over forged records (flag bit 1).
write("ring_reader_fuzz", "publishing-over-records",
      ring_input(2, len(records), len(records) + 256, 0, records))
write("ring_reader_fuzz", "live-publishing", ring_input(3, len(records), len(records) + 256, 0, records))
write("ring_reader_fuzz", "impossible-length",
      ring_input(0, 64, 512, 0, struct.pack("<IIQq", 100000, 1, 1, 0)))

# ---- segment headers (layout.hpp, broadcast_ring.hpp, registry.hpp) ----
SEGMENT_MAGIC = 0x3130474E49525645


def preamble(kind, version, incarnation=1, total=8192, state=1):
    return struct.pack("<QIIIIQQQQq", SEGMENT_MAGIC, version, kind, state, 0, 0, 0, incarnation,
                       total, 0)


def ring_config(capacity=4096, data_offset=4096, alignment=8, max_payload=512, first_seq=1):
    return struct.pack("<QQIIQ", capacity, data_offset, alignment, max_payload, first_seq)


def header_input(flags, ring_page, registry=b""):
    return bytes([flags]) + ring_page + b"EVSPLIT" + registry


good_ring = preamble(1, 1) + ring_config()
write("segment_header_fuzz", "valid", header_input(3, good_ring))
write("segment_header_fuzz", "crash-capacity-past-segment", header_input(3, preamble(1, 1) + ring_config(1 << 20)))
# A reader took a config whose data area did not fit the segment, and read outside it.
write("segment_header_fuzz", "crash-capacity-not-power-of-two", header_input(3, preamble(1, 1) + ring_config(5000)))
write("segment_header_fuzz", "data-offset-inside-header", header_input(3, preamble(1, 1) + ring_config(data_offset=8)))
write("segment_header_fuzz", "huge-max-payload", header_input(3, preamble(1, 1) + ring_config(max_payload=0xFFFFFFF0)))
write("segment_header_fuzz", "other-version", header_input(2, preamble(1, 99) + ring_config()))
# A state no writer stores kept an opener waiting 2 s for a writer mid-start.
write("segment_header_fuzz", "unknown-state", header_input(0, preamble(1, 1, state=9) + ring_config()))
write("segment_header_fuzz", "not-ours", header_input(0, b"garbage" * 20, b"more garbage" * 10))

# ---- the domains' commands (writer/domains) ----
DOMAIN = "domain_commands_fuzz"
write(DOMAIN, "kv-commands", "kv\nput a 1\nput b 2\ncas a 1 3\ncas a 1 4\ndel b\ndel b\ncas c 0 new\nput\n")
write(DOMAIN, "kv-odd-words", "kv\nput  key\nget a\ncas a x y\ncas a 18446744073709551616 v\n\n")
write(DOMAIN, "bank-commands",
      "bank\nopen alice\nopen bob\ndeposit alice 100\nwithdraw alice 30\ntransfer alice bob 50\n"
      "transfer alice bob 50\nwithdraw bob -5\ndeposit carol 1\nopen alice\n")
write(DOMAIN, "bank-overflow", "bank\nopen a\ndeposit a 9223372036854775807\ndeposit a 1\ndeposit a 0\n")
wire = struct.pack("<I", 3) + b"".join(struct.pack("<I", len(w)) + w for w in (b"put", b"k", b"v"))
write(DOMAIN, "kv-bytes", b"kv bytes\n" + wire + b"\n--\n\x01\x00\x00\x00\x01\x00k\n--\n")
write(DOMAIN, "bank-bytes", b"bank bytes\n\x02\x00\x00\x00\x05\x00alice\n--\n\x00\x00")

# ---- the views' queries (readers/views) ----
VIEW = "view_queries_fuzz"
write(VIEW, "kv", "kv\n!put a 1\n!put ab 2\n!put b \"q\"\nget a\nget zz\nscan a\nscan a 1\nscan\ncount\nnonsense\n")
write(VIEW, "bank", "bank\n!open alice\n!deposit alice 10\n!open bob\nbalance alice\nbalance\ntop 1\ntop x\ntotal\n")
write(VIEW, "stats", "stats kv\n!put a 1\n~9 junk\nsummary\nsummary extra\n")
write(VIEW, "tail", "tail bank\n!open x\n!deposit x 5\ncount\n")
write(VIEW, "kv-raw-events", "kv\n~1 \x01\x00k\n~2 \n~77 zz\nget k\n")

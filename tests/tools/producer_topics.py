#!/usr/bin/python3
"""Reads what cdc-producer wrote to Kafka and compares it with the source SQLite files.

An independent decoder: python3-confluent-kafka reads the topics, python3-avro decodes
every record with nothing but the schema JSON published on <prefix>.schemas (looked up by
the fingerprint in the single-object header: the 8 bytes after C3 01, little-endian).

  producer_topics.py snapshot CONFIG   one 'r' per source row, equal values, markers on
                                       every partition for every table, heartbeats
  producer_topics.py rebuild CONFIG    state rebuilt from the topics equals the files;
                                       positions per key never decrease in topic order
  producer_topics.py dlq CONFIG        prints the dead letters as JSON lines

CONFIG is the pipeline file (${VAR} / ${VAR:-default} expanded from the environment);
the broker is its kafka.bootstrap.servers. Exit 0 when the check holds, 1 otherwise
(each difference printed), 2 on usage errors.
"""
import datetime
import decimal
import io
import json
import os
import re
import sqlite3
import sys

import avro.io
import avro.schema
import yaml
from confluent_kafka import Consumer, TopicPartition

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def load_config(path):
    text = open(path).read()

    def sub(m):
        name, default = m.group(1), m.group(3)
        if name in os.environ:
            return os.environ[name]
        if default is None:
            sys.exit("unset variable %s in %s" % (name, path))
        return default

    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", sub, text)
    conf = yaml.safe_load(text)
    base = os.path.dirname(os.path.abspath(path))
    for s in conf["sources"]:
        if not os.path.isabs(s["path"]):
            s["path"] = os.path.normpath(os.path.join(base, s["path"]))
    return conf


def consume(bootstrap, topic):
    """Every record of topic, as (partition, offset, key, value)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "producer-topics-check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    md = c.list_topics(topic, timeout=10)
    parts = sorted(md.topics[topic].partitions)
    want = {}
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if hi > lo:
            want[p] = hi
    c.assign([TopicPartition(topic, p, 0) for p in want])
    out, pos = [], {p: 0 for p in want}
    while any(pos[p] < want[p] for p in want):
        msgs = c.consume(1000, timeout=5)
        if not msgs:
            raise SystemExit("timed out reading %s" % topic)
        for m in msgs:
            if m.error():
                raise SystemExit("reading %s: %s" % (topic, m.error()))
            out.append((m.partition(), m.offset(), m.key(), m.value()))
            pos[m.partition()] = m.offset() + 1
    c.close()
    out.sort(key=lambda r: (r[0], r[1]))
    return out, len(parts)


class Schemas:
    def __init__(self, bootstrap, prefix):
        recs, _ = consume(bootstrap, prefix + ".schemas")
        self.by_fp = {}
        self.json = {}
        for _, _, k, v in recs:
            fp = k.decode()
            self.json[fp] = json.loads(v)
            self.by_fp[fp] = avro.schema.parse(v.decode())

    def decode(self, data):
        if data[:2] != b"\xc3\x01":
            raise ValueError("not single-object encoded: %r" % data[:10])
        fp = "%016x" % int.from_bytes(data[2:10], "little")
        schema = self.by_fp[fp]
        reader = avro.io.DatumReader(schema)
        return fp, reader.read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))


def field_kind(ftype):
    """The column kind of a row-record field type (nullable unions unwrapped)."""
    if isinstance(ftype, list):
        ftype = [t for t in ftype if t != "null"][0]
    if isinstance(ftype, dict):
        lt, t = ftype.get("logicalType"), ftype["type"]
        if lt == "decimal":
            return "decimal"
        if lt == "timestamp-micros":
            return "timestamp"
        if lt == "date":
            return "date"
        if ftype.get("cdc.type") in ("numeric", "json"):
            return ftype["cdc.type"]
        return {"string": "text"}.get(t, t)
    return {"long": "long", "double": "double", "boolean": "boolean", "string": "text",
            "bytes": "blob"}[ftype]


def parse_ts_us(s):
    s = s.strip()
    if len(s) == 10:
        s += " 00:00:00"
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return (d - EPOCH) // datetime.timedelta(microseconds=1)


def sqlite_canon(kind, v):
    """SQLite's stored value in the representation the column kind carries."""
    if v is None:
        return None
    if kind == "long":
        return int(v)
    if kind == "double":
        return float(v)
    if kind in ("decimal", "numeric"):
        return decimal.Decimal(repr(v) if isinstance(v, float) else str(v)).normalize()
    if kind == "boolean":
        return bool(v)
    if kind in ("timestamp", "date"):
        if isinstance(v, str):
            us = parse_ts_us(v)
        elif isinstance(v, int):
            us = v * 1000000
        else:  # julian day, rounded to the millisecond as SQLite does
            us = round((v - 2440587.5) * 86400000) * 1000
        return us if kind == "timestamp" else us // 86400000000
    if kind == "text":
        if isinstance(v, float):
            r = repr(v)
            return r if ("." in r or "e" in r or "n" in r) else r + ".0"
        return str(v)
    if kind == "json":
        return json.loads(v) if isinstance(v, str) else v
    if kind == "blob":
        return v.encode() if isinstance(v, str) else bytes(v)
    raise ValueError(kind)


def avro_canon(kind, a):
    if a is None:
        return None
    if kind in ("decimal", "numeric"):
        return decimal.Decimal(a).normalize()
    if kind == "timestamp":
        if isinstance(a, datetime.datetime):
            return (a - EPOCH) // datetime.timedelta(microseconds=1)
        return a
    if kind == "date":
        if isinstance(a, datetime.date):
            return (a - datetime.date(1970, 1, 1)).days
        return a
    if kind == "json":
        return json.loads(a)
    if kind == "blob":
        return bytes(a)
    return a


class Table:
    """A (source, table) as its row schema describes it."""
    def __init__(self, row_schema):
        self.fields = [(f["name"], f["cdc.name"], field_kind(f["type"]), f.get("cdc.pk", 0))
                       for f in row_schema["fields"]]
        self.keys = sorted([f for f in self.fields if f[3]], key=lambda f: f[3])


def row_schema_of(envelope_json):
    for f in envelope_json["fields"]:
        if f["name"] == "after":
            return [t for t in f["type"] if t != "null"][0]
    raise ValueError("no after field")


def qi(name):
    return '"' + name.replace('"', '""') + '"'


def read_topics(conf, bootstrap):
    prefix = conf.get("topic_prefix", "cdc")
    schemas = Schemas(bootstrap, prefix)
    rows, controls, nparts, tables = [], [], {}, {}
    for d in conf["domains"]:
        recs, nparts[d["name"]] = consume(bootstrap, prefix + "." + d["name"])
        for p, off, k, v in recs:
            kfp, key = schemas.decode(k)
            vfp, val = schemas.decode(v)
            if schemas.by_fp[vfp].fullname == "cdc.Control":
                val["domain"] = d["name"]
                controls.append(val)
                continue
            env = schemas.json[vfp]
            t = tables.setdefault((key["source"], key["table"], vfp), Table(row_schema_of(env)))
            src = val["source"]
            pk = tuple(avro_canon(f[2], key["pk"][f[0]]) for f in t.keys)
            after = None
            if val["after"] is not None:
                after = {f[1]: avro_canon(f[2], val["after"][f[0]]) for f in t.fields}
            rows.append({"source": key["source"], "table": key["table"], "pk": pk,
                         "op": val["op"], "after": after, "pos": (src["epoch"], src["position"]),
                         "partition": p, "offset": off, "schema": vfp})
    return rows, controls, nparts, tables, schemas


def sqlite_rows(path, table, t):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    db.text_factory = bytes
    cols = ", ".join(qi(f[1]) for f in t.fields)
    out = {}
    for r in db.execute("SELECT %s FROM %s" % (cols, qi(table))):
        r = [x.decode("utf-8", "surrogateescape") if isinstance(x, bytes) and f[2] != "blob"
             else x for x, f in zip(r, t.fields)]
        vals = {f[1]: sqlite_canon(f[2], x) for f, x in zip(t.fields, r)}
        out[tuple(vals[f[1]] for f in t.keys)] = vals
    db.close()
    return out


def user_tables(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    names = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' AND name NOT LIKE '\\_cdc\\_%' ESCAPE '\\' ORDER BY name")]
    db.close()
    return names


def newest_table(tables, source, table, rows):
    """The Table of the newest schema a (source, table) was sent with."""
    best = None
    for r in rows:
        if r["source"] == source and r["table"] == table:
            if best is None or r["pos"] >= best[0]:
                best = (r["pos"], r["schema"])
    return tables[(source, table, best[1])] if best else None


def compare_values(label, want, got, errors):
    for col, v in want.items():
        if got.get(col) != v:
            errors.append("%s: column %s: SQLite %r, topic %r" % (label, col, v, got.get(col)))


def check_snapshot(conf, bootstrap):
    rows, controls, nparts, tables, _ = read_topics(conf, bootstrap)
    errors, total = [], 0
    for s in conf["sources"]:
        parts = nparts[s["domain"]]
        beats = {c["partition"] for c in controls if c["op"] == "h" and c["source"] == s["name"]}
        if len(beats) != parts:
            errors.append("source %s: heartbeats on partitions %s of %d" % (s["name"],
                                                                            sorted(beats), parts))
        for table in user_tables(s["path"]):
            marks = {c["partition"] for c in controls if c["op"] == "m" and
                     c["source"] == s["name"] and c["snapshot_end"]["table"] == table}
            if len(marks) != parts:
                errors.append("%s.%s: end markers on partitions %s of %d" % (
                    s["name"], table, sorted(marks), parts))
            recs = [r for r in rows if r["source"] == s["name"] and r["table"] == table]
            t = newest_table(tables, s["name"], table, rows)
            db = sqlite3.connect("file:%s?mode=ro" % s["path"], uri=True)
            n = db.execute("SELECT count(*) FROM %s" % qi(table)).fetchone()[0]
            db.close()
            if len([r for r in recs if r["op"] == "r"]) != n or len(recs) != n:
                errors.append("%s.%s: %d row(s) in SQLite, %d record(s) (%d 'r')" % (
                    s["name"], table, n, len(recs), len([r for r in recs if r["op"] == "r"])))
            if t is None:
                continue
            want = sqlite_rows(s["path"], table, t)
            seen = {}
            for r in recs:
                seen[r["pk"]] = seen.get(r["pk"], 0) + 1
                if r["pk"] not in want:
                    errors.append("%s.%s: key %r not in SQLite" % (s["name"], table, r["pk"]))
                    continue
                compare_values("%s.%s key %r" % (s["name"], table, r["pk"]), want[r["pk"]],
                               r["after"], errors)
            for k, c in seen.items():
                if c != 1:
                    errors.append("%s.%s: key %r sent %d times" % (s["name"], table, k, c))
            total += n
    for e in errors[:50]:
        print(e)
    print("snapshot check: %d source row(s), %d record(s), %d control record(s), %d error(s)"
          % (total, len(rows), len(controls), len(errors)))
    return 1 if errors else 0


def check_rebuild(conf, bootstrap):
    rows, controls, nparts, tables, _ = read_topics(conf, bootstrap)
    errors = []
    newest, last_pos = {}, {}
    for r in rows:  # topic order per partition (every version of a key is on one partition)
        k = (r["source"], r["table"], r["pk"])
        if k in last_pos and r["pos"] < last_pos[k]:
            errors.append("%s.%s key %r: position %r after %r (offset %d)" % (
                r["source"], r["table"], r["pk"], r["pos"], last_pos[k], r["offset"]))
        last_pos[k] = max(last_pos.get(k, r["pos"]), r["pos"])
        if k not in newest or r["pos"] >= newest[k]["pos"]:
            newest[k] = r
    # End markers: once one is on every partition, rows of its (source, table) older than
    # its start position H0 were not re-sent by that snapshot: they are gone.
    marks = {}
    for c in controls:
        if c["op"] == "m":
            e = c["snapshot_end"]
            key = (c["source"], e["table"], c["epoch"], e["start_position"])
            marks.setdefault(key, set()).add(c["partition"])
    cut = {}
    for (src, table, epoch, h0), ps in marks.items():
        dom = [s["domain"] for s in conf["sources"] if s["name"] == src][0]
        if len(ps) == nparts[dom]:
            cut[(src, table)] = max(cut.get((src, table), (0, 0)), (epoch, h0))
    state = {}
    for k, r in newest.items():
        if r["op"] == "d" or r["pos"] < cut.get((k[0], k[1]), (0, 0)):
            continue
        state[k] = r
    checked = 0
    for s in conf["sources"]:
        for table in user_tables(s["path"]):
            t = newest_table(tables, s["name"], table, rows)
            got = {k[2]: r for k, r in state.items() if k[0] == s["name"] and k[1] == table}
            if t is None:
                db = sqlite3.connect("file:%s?mode=ro" % s["path"], uri=True)
                n = db.execute("SELECT count(*) FROM %s" % qi(table)).fetchone()[0]
                db.close()
                if n or got:
                    errors.append("%s.%s: %d row(s) in SQLite, no records" % (s["name"], table, n))
                continue
            want = sqlite_rows(s["path"], table, t)
            for pk in sorted(set(want) - set(got), key=repr)[:10]:
                errors.append("%s.%s: key %r missing from the topic" % (s["name"], table, pk))
            for pk in sorted(set(got) - set(want), key=repr)[:10]:
                errors.append("%s.%s: key %r in the topic, not in SQLite (%s at %r)" % (
                    s["name"], table, pk, got[pk]["op"], got[pk]["pos"]))
            for pk in set(want) & set(got):
                compare_values("%s.%s key %r" % (s["name"], table, pk), want[pk],
                               got[pk]["after"], errors)
            checked += len(want)
    for e in errors[:50]:
        print(e)
    print("rebuild check: %d row(s) compared, %d record(s), %d key(s), %d error(s)"
          % (checked, len(rows), len(newest), len(errors)))
    return 1 if errors else 0


def dump_dlq(conf, bootstrap):
    prefix = conf.get("topic_prefix", "cdc")
    for d in conf["domains"]:
        recs, _ = consume(bootstrap, "%s.%s.dlq" % (prefix, d["name"]))
        for p, off, k, v in recs:
            print(json.dumps({"topic": "%s.%s.dlq" % (prefix, d["name"]), "partition": p,
                              "value": json.loads(v)}, sort_keys=True))
    return 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("snapshot", "rebuild", "dlq"):
        print(__doc__, file=sys.stderr)
        return 2
    conf = load_config(sys.argv[2])
    bootstrap = conf["kafka"]["bootstrap.servers"]
    return {"snapshot": check_snapshot, "rebuild": check_rebuild,
            "dlq": dump_dlq}[sys.argv[1]](conf, bootstrap)


if __name__ == "__main__":
    sys.exit(main())

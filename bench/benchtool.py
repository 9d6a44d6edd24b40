#!/usr/bin/python3
"""Helpers of bench/run.sh (not a test): the latency probe, the lag sampler, Kafka high
watermarks, latency percentiles, and the results table.

  benchtool.py probe DB SECONDS OUT.csv [--period-ms 10]
      inserts one row into bench_probe every period (its own BEGIN IMMEDIATE..COMMIT,
      busy timeout 1 s, like the applications) and writes `id,commit_us` per row, the
      CLOCK_REALTIME in microseconds taken right after COMMIT returned.
  benchtool.py hwm BOOTSTRAP TOPIC
      sum of the topic's high watermarks.
  benchtool.py lag BOOTSTRAP TOPIC PSQL_CONNINFO DOMAIN OUT.csv
      every second until SIGTERM: `t_s,hwm,stored,lag` (stored = sum of _cdc_offsets).
  benchtool.py latency PROBE.csv TARGET.csv OUT.json
      TARGET.csv: `id,commit_us` from pg_xact_commit_timestamp; prints and writes
      p50/p90/p99/max in ms and the number of probe rows missing in the target.
  benchtool.py split BOOTSTRAP TOPIC PROBE.csv TARGET.csv OUT.json
      the latency split at Kafka: each probe row's first record's CreateTime (ms) gives
      SQLite commit -> producer send and send -> PostgreSQL commit, p50 and p99.
  benchtool.py lagsummary LAG.csv
      prints `first_quarter_avg last_quarter_avg end_lag growing`.
  benchtool.py table RESULTS.tsv ROWS RUNS OUT.md
      RESULTS.tsv: `measure<TAB>unit<TAB>value` lines (several per measure, one per run);
      prints the min/median/max table, the ratios and the targets, writes it as markdown.
"""
import csv
import json
import signal
import sqlite3
import statistics
import subprocess
import sys
import time


def probe(db, seconds, out, period_ms=10):
    con = sqlite3.connect(db, timeout=1.0, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 1000")
    end = time.monotonic() + seconds
    period = period_ms / 1000.0
    nxt = time.monotonic()
    failures = 0
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        i = con.execute("SELECT coalesce(max(id), 0) FROM bench_probe").fetchone()[0]
        while time.monotonic() < end:
            i += 1
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute("INSERT INTO bench_probe (id, src_us, note) VALUES (?, ?, ?)",
                            (i, time.time_ns() // 1000, "probe"))
                con.execute("COMMIT")
                w.writerow((i, time.time_ns() // 1000))
            except sqlite3.OperationalError as e:
                failures += 1
                print(f"probe: row {i}: {e}", file=sys.stderr)
                try:
                    con.execute("ROLLBACK")
                except sqlite3.OperationalError:
                    pass
            nxt += period
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
            else:
                nxt = time.monotonic()
    # A failed write is what an application with a 1 s busy timeout would have seen: it is
    # counted (and reported by the bench), not fatal; the row is not in the source.
    print(f"probe: {i} rows, {failures} failures", file=sys.stderr)
    with open(out + ".failures", "w") as f:
        f.write(f"{failures}\n")
    return 0


def hwm_sum(consumer, topic):
    from confluent_kafka import TopicPartition
    md = consumer.list_topics(topic, timeout=10)
    return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
               for p in md.topics[topic].partitions)


def kafka_consumer(bootstrap):
    from confluent_kafka import Consumer
    return Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe"})


def hwm(bootstrap, topic):
    c = kafka_consumer(bootstrap)
    print(hwm_sum(c, topic))
    c.close()
    return 0


def lag(bootstrap, topic, conninfo, domain, out):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    c = kafka_consumer(bootstrap)
    t0 = time.monotonic()
    sql = f"SELECT coalesce(sum(next_offset), 0) FROM _cdc_offsets WHERE domain = '{domain}'"
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        while not stop:
            h = hwm_sum(c, topic)
            r = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-d", conninfo, "-c", sql],
                               capture_output=True, text=True)
            s = int(r.stdout.strip() or 0) if r.returncode == 0 else 0
            w.writerow((round(time.monotonic() - t0, 2), h, s, h - s))
            f.flush()
            for _ in range(10):
                if stop:
                    break
                time.sleep(0.1)
    c.close()
    return 0


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def latency(probe_csv, target_csv, out):
    src = {int(r[0]): int(r[1]) for r in csv.reader(open(probe_csv)) if r}
    dst = {int(r[0]): int(r[1]) for r in csv.reader(open(target_csv)) if r}
    lat = sorted((dst[i] - src[i]) / 1000.0 for i in src if i in dst)
    res = {"probes": len(src), "missing": sum(1 for i in src if i not in dst),
           "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90), "p99_ms": pct(lat, 99),
           "max_ms": lat[-1] if lat else float("nan"),
           "min_ms": lat[0] if lat else float("nan")}
    json.dump(res, open(out, "w"))
    print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in res.items()))
    return 0


def _varint(b, i):
    shift = val = 0
    while True:
        c = b[i]
        i += 1
        val |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return (val >> 1) ^ -(val & 1), i


def split(bootstrap, topic, probe_csv, target_csv, out):
    """Kafka's CreateTime of each probe row's first record splits the latency into
    SQLite commit -> producer send (ms resolution) and send -> PostgreSQL commit."""
    from confluent_kafka import Consumer, TopicPartition
    src = {int(r[0]): int(r[1]) for r in csv.reader(open(probe_csv)) if r}
    dst = {int(r[0]): int(r[1]) for r in csv.reader(open(target_csv)) if r}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-split",
                  "enable.auto.commit": False})
    md = c.list_topics(topic, timeout=10)
    parts = []
    for p in md.topics[topic].partitions:
        hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        if hi > 0:
            parts.append((p, hi))
    c.assign([TopicPartition(topic, p, 0) for p, _ in parts])
    left = {p: hi for p, hi in parts}
    sent = {}
    while left:
        m = c.poll(5.0)
        if m is None:
            break
        if m.error():
            continue
        if m.offset() + 1 >= left.get(m.partition(), 0):
            left.pop(m.partition(), None)
        k = m.key()
        if not k or b"bench_probe" not in k:
            continue
        try:
            i = 10
            for _ in range(2):
                n, i = _varint(k, i)
                i += n
            pid, _ = _varint(k, i)
        except IndexError:
            continue
        sent.setdefault(pid, m.timestamp()[1] * 1000)
    c.close()
    a = sorted((sent[i] - src[i]) / 1000.0 for i in src if i in sent)
    b = sorted((dst[i] - sent[i]) / 1000.0 for i in src if i in sent and i in dst)
    res = {"matched": len(a), "src_to_kafka_p50_ms": pct(a, 50), "src_to_kafka_p99_ms": pct(a, 99),
           "kafka_to_pg_p50_ms": pct(b, 50), "kafka_to_pg_p99_ms": pct(b, 99)}
    json.dump(res, open(out, "w"))
    print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in res.items()))
    return 0


def lagsummary(path):
    rows = [list(map(float, r)) for r in csv.reader(open(path)) if r]
    if len(rows) < 4:
        print("nan nan nan unknown")
        return 0
    q = len(rows) // 4
    first = statistics.mean(r[3] for r in rows[:q])
    last = statistics.mean(r[3] for r in rows[-q:])
    # Growing: the last quarter's lag is both twice the first's and above what one
    # second of the workload plus a sink batch period can explain.
    growing = last > 2 * first and last > 2000
    print(f"{first:.0f} {last:.0f} {rows[-1][3]:.0f} {'yes' if growing else 'no'}")
    return 0


# measure -> (label, unit, target text, direction, target value or None)
MEASURES = [
    ("snapshot_cdc", "1. snapshot cdc (1 producer, 2 sinks)", "rows/s"),
    ("snapshot_pgloader", "1. snapshot pgloader (prefetch rows = 10000)", "rows/s"),
    ("snapshot_copy", "1. PostgreSQL COPY (\\copy of a CSV)", "rows/s"),
    ("snapshot_cdc_1w", "6. snapshot cdc, 1 sink worker", "rows/s"),
    ("latency_p50", "2. streaming latency p50", "ms"),
    ("latency_p99", "2. streaming latency p99", "ms"),
    ("latency_max", "2. streaming latency max", "ms"),
    ("latency_src_to_kafka_p50", "2. latency p50, SQLite commit to Kafka", "ms"),
    ("latency_kafka_to_pg_p50", "2. latency p50, Kafka to PostgreSQL commit", "ms"),
    ("stream_end_lag", "2. lag at end of workload", "records"),
    ("probe_busy", "2. probe writes refused (busy > 1 s)", "writes"),
    ("stream_drain", "2. drain after workload", "ms"),
    ("replay", "3. replay into equal target (2 sinks --once), apply", "rows/s"),
    ("replay_wall", "3. replay, wall incl. group joins", "rows/s"),
    ("impact_plain_cps", "4. app commits/s, no capture", "commits/s"),
    ("impact_cdc_cps", "4. app commits/s, capture + producer", "commits/s"),
    ("impact_trig_cps", "4. app commits/s, capture, producer stopped", "commits/s"),
    ("impact_plain_p99", "4. app commit p99, no capture", "us"),
    ("impact_cdc_p99", "4. app commit p99, capture + producer", "us"),
    ("impact_trig_p99", "4. app commit p99, capture, producer stopped", "us"),
    ("rss_producer", "5. peak RSS producer", "MiB"),
    ("rss_sink", "5. peak RSS sink (max of workers)", "MiB"),
    ("rss_producer_big", "5. peak RSS producer, --big rows", "MiB"),
    ("rss_sink_big", "5. peak RSS sink, --big rows", "MiB"),
    ("rss_producer_big1m", "5. peak RSS producer, 1M rows, --big partitions", "MiB"),
    ("rss_sink_big1m", "5. peak RSS sink, 1M rows, --big partitions", "MiB"),
    ("snapshot_cdc_big", "5. snapshot cdc, --big rows", "rows/s"),
    ("ir_producer", "7. producer instructions/row (read+encode)", "Ir/row"),
    ("ir_sink", "7. sink instructions/row (decode+apply)", "Ir/row"),
]


def fmt(v):
    if v != v:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}"


def table(results, rows, runs, out):
    vals = {}
    for line in open(results):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            continue
        try:
            vals.setdefault(parts[0], []).append(float(parts[2]))
        except ValueError:
            pass
    med = {k: statistics.median(v) for k, v in vals.items()}
    lines = [f"| measure | unit | n | min | median | max |", "|---|---|---|---|---|---|"]
    for key, label, unit in MEASURES:
        if key not in vals:
            continue
        v = vals[key]
        lines.append(f"| {label} | {unit} | {len(v)} | {fmt(min(v))} | {fmt(med[key])} "
                     f"| {fmt(max(v))} |")

    def ratio(a, b):
        return med[a] / med[b] if a in med and b in med and med[b] else float("nan")

    def check(ok):
        return "n/a" if ok is None else ("met" if ok else "NOT met")

    r_pgl = ratio("snapshot_cdc", "snapshot_pgloader")
    r_copy = ratio("snapshot_cdc", "snapshot_copy")
    r_replay = ratio("replay", "snapshot_cdc")
    r_scale = ratio("snapshot_cdc", "snapshot_cdc_1w")
    r_cps = ratio("impact_cdc_cps", "impact_plain_cps")
    r_p99 = ratio("impact_cdc_p99", "impact_plain_p99")
    rss = max([med.get(k, float("nan")) for k in ("rss_producer", "rss_sink")] or [0])
    tg = [
        ("cdc / pgloader rows/s", r_pgl, ">= 1.2", None if r_pgl != r_pgl else r_pgl >= 1.2),
        ("cdc / COPY rows/s", r_copy, ">= 0.5", None if r_copy != r_copy else r_copy >= 0.5),
        ("streaming p50 ms", med.get("latency_p50", float("nan")), "< 100",
         None if "latency_p50" not in med else med["latency_p50"] < 100),
        ("streaming p99 ms", med.get("latency_p99", float("nan")), "< 500",
         None if "latency_p99" not in med else med["latency_p99"] < 500),
        ("replay / snapshot rows/s", r_replay, ">= 1.5",
         None if r_replay != r_replay else r_replay >= 1.5),
        ("captured / plain commits/s", r_cps, ">= 0.7", None if r_cps != r_cps else r_cps >= 0.7),
        ("captured / plain commit p99", r_p99, "<= 2", None if r_p99 != r_p99 else r_p99 <= 2),
        ("peak RSS MiB (max of producer, sinks)", rss, "<= 64",
         None if rss != rss else rss <= 64),
        ("2 sinks / 1 sink rows/s", r_scale, "(report)", None),
    ]
    if "rss_sink_big" in med and "rss_sink_big1m" in med:
        grow = max(med["rss_sink_big"] / med["rss_sink_big1m"],
                   med["rss_producer_big"] / med["rss_producer_big1m"])
        tg.append(("RSS at --big / at 1M (same partitions)", grow, "~1 (<= 1.25)", grow <= 1.25))
    lines += ["", "| ratio / target | value | target | result |", "|---|---|---|---|"]
    for name, v, t, ok in tg:
        lines.append(f"| {name} | {fmt(v) if abs(v) >= 100 or v != v else f'{v:.2f}'} | {t} "
                     f"| {check(ok)} |")
    text = "\n".join(lines) + "\n"
    open(out, "w").write(text)
    print(text)
    return 0


def main(a):
    if len(a) >= 4 and a[0] == "probe":
        period = int(a[a.index("--period-ms") + 1]) if "--period-ms" in a else 10
        return probe(a[1], float(a[2]), a[3], period)
    if len(a) == 3 and a[0] == "hwm":
        return hwm(a[1], a[2])
    if len(a) == 6 and a[0] == "lag":
        return lag(*a[1:])
    if len(a) == 4 and a[0] == "latency":
        return latency(*a[1:])
    if len(a) == 6 and a[0] == "split":
        return split(*a[1:])
    if len(a) == 2 and a[0] == "lagsummary":
        return lagsummary(a[1])
    if len(a) == 5 and a[0] == "table":
        return table(*a[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

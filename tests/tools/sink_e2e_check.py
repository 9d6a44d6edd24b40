#!/usr/bin/python3
"""Checks for the sink's end-to-end tests (tests/integration/sink_e2e_*.test.sh).

  sink_e2e_check.py sample DB OUT [--mode monotonic|unchanged] [--interval-ms N]
      Samples every target table of database DB (tables with a _cdc_pos column) and
      _cdc_tombstones, as often as it can, until SIGTERM/SIGINT; then writes a JSON
      summary to OUT and exits 0 when the rule held at every sample, 1 otherwise.
        monotonic: a key's (_cdc_epoch, _cdc_pos) never goes back (row or tombstone;
                   a row that disappears and comes back must come back newer);
        unchanged: every sample equals the first one (same keys, same values, same
                   positions; _cdc_synced_at is ignored, tombstones included).
      One statement per sample (one consistent snapshot), through one long-lived psql
      (PGHOST/PGPORT/PGUSER from the environment); a lost connection (PostgreSQL
      restarting) is reopened and the gap is counted, not fatal.
  sink_e2e_check.py counts CONFIG [--domain D]
      Row count of every table of every source (of domain D) in SQLite against its target
      table <table_prefix><table> in the domain's database; exit 1 on any difference.
  sink_e2e_check.py audit JSON_REPORT
      `cdc-validator --audit --json` output: every table "match" (not only "in flight"),
      every check "ok", no errors; prints a one-line summary, exit 1 otherwise.
  sink_e2e_check.py ownership TOPIC LOG[@KILL_MS]...
      From cdc-sink logs (kv format, info level): the intervals in which each worker held
      each partition ("assigned TOPIC [p]" until "partition(s) of TOPIC revoked", the end
      of the log, or KILL_MS, the epoch milliseconds at which that worker was killed).
      Exit 1 when two workers held one partition at overlapping times.
Exit 2 on usage errors.
"""
import datetime
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import yaml

END = "__sink_e2e_end__"


def usage():
    print(__doc__, file=sys.stderr)
    sys.exit(2)


# --------------------------------------------------------------------------------------
# psql session


class Psql:
    """One psql process fed statements on stdin; results read up to an end line."""

    def __init__(self, db):
        self.db = db
        self.p = None

    def open(self):
        self.close()
        self.p = subprocess.Popen(
            ["psql", "-X", "-A", "-t", "-q", "-F", "\x1f", "-d", self.db, "-v", "ON_ERROR_STOP=0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, bufsize=1)

    def close(self):
        if self.p:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            self.p.kill()
            self.p.wait()
            self.p = None

    def query(self, sql):
        """Rows (lists of fields) or None when the statement or the connection failed."""
        if not self.p:
            self.open()
        try:
            self.p.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " + END + " :ERROR\n")
            self.p.stdin.flush()
            rows = []
            for line in self.p.stdout:
                line = line.rstrip("\n")
                if line.startswith(END):
                    if line.split()[-1] != "false":
                        return None
                    return rows
                if line:
                    rows.append(line.split("\x1f"))
        except (BrokenPipeError, OSError):
            pass
        self.close()  # EOF: psql exited (connection lost)
        return None


def qi(name):
    return '"' + name.replace('"', '""') + '"'


TABLES_SQL = """
SELECT c.relname, string_agg(quote_ident(a.attname), ',' ORDER BY k.n)
FROM pg_class c
JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = current_schema()
JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE c.relkind = 'r' AND c.relname NOT LIKE '\\_cdc\\_%'
  AND EXISTS (SELECT 1 FROM pg_attribute p WHERE p.attrelid = c.oid AND p.attname = '_cdc_pos')
GROUP BY c.relname ORDER BY c.relname
"""


def sample_sql(tables, with_values):
    parts = []
    for name, pk in tables:
        val = "md5((to_jsonb(t) - '_cdc_synced_at')::text)" if with_values else "''"
        parts.append("SELECT %s, md5(row(%s)::text), %s, _cdc_epoch, _cdc_pos FROM %s t" % (
            "'r:' || " + "'" + name.replace("'", "''") + "'", pk, val, qi(name)))
    parts.append("SELECT 't:' || target_table, encode(key, 'hex'), '', epoch, pos "
                 "FROM _cdc_tombstones")
    return " UNION ALL ".join(parts)


def cmd_sample(args):
    if len(args) < 2:
        usage()
    db, out = args[0], args[1]
    mode, interval = "monotonic", 0.0
    rest = args[2:]
    while rest:
        if rest[0] == "--mode" and len(rest) > 1 and rest[1] in ("monotonic", "unchanged"):
            mode = rest[1]
        elif rest[0] == "--interval-ms" and len(rest) > 1:
            interval = int(rest[1]) / 1000.0
        else:
            usage()
        rest = rest[2:]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    s = Psql(db)
    last, baseline = {}, None
    samples = failed = rows_seen = 0
    violations = []
    tables, tables_at = [], 0
    t0 = time.time()
    while not stop:
        if time.time() - tables_at > 0.5 or not tables:
            got = s.query(TABLES_SQL)
            if got is None:
                failed += 1
                time.sleep(0.2)
                continue
            tables, tables_at = [(r[0], r[1]) for r in got], time.time()
        if not s.query("SELECT 1 FROM pg_class WHERE relname = '_cdc_tombstones'"):
            time.sleep(0.1)  # the sink has not created its metadata yet
            continue
        rows = s.query(sample_sql(tables, mode == "unchanged"))
        if rows is None:
            failed += 1
            tables_at = 0
            time.sleep(0.2)
            continue
        samples += 1
        rows_seen += len(rows)
        if mode == "unchanged":
            snap = {(r[0], r[1]): (r[2], int(r[3]), int(r[4])) for r in rows}
            if baseline is None:
                baseline = snap
            elif snap != baseline:
                for k in sorted(set(snap) | set(baseline))[:20]:
                    if snap.get(k) != baseline.get(k):
                        violations.append({"sample": samples, "key": list(k),
                                           "first": baseline.get(k), "now": snap.get(k)})
                baseline = snap  # report each change once
        else:
            for r in rows:
                k, pos = (r[0], r[1]), (int(r[3]), int(r[4]))
                prev = last.get(k)
                if prev is not None and pos < prev:
                    violations.append({"sample": samples, "key": list(k), "was": prev, "now": pos})
                if prev is None or pos > prev:
                    last[k] = pos
        if interval:
            time.sleep(interval)
    s.close()
    summary = {"mode": mode, "samples": samples, "failed_samples": failed,
               "rows_sampled": rows_seen, "keys": len(last) if mode == "monotonic" else
               len(baseline or {}), "seconds": round(time.time() - t0, 1),
               "violations": len(violations), "first_violations": violations[:20]}
    with open(out, "w") as f:
        json.dump(summary, f)
    return 1 if violations else 0


# --------------------------------------------------------------------------------------
# counts


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


def cmd_counts(args):
    if not args:
        usage()
    conf = load_config(args[0])
    domain = None
    if len(args) == 3 and args[1] == "--domain":
        domain = args[2]
    elif len(args) != 1:
        usage()
    targets = {d["name"]: d["target"] for d in conf["domains"]}
    errors, tables, rows = [], 0, 0
    sessions = {}
    for s in conf["sources"]:
        if domain and s["domain"] != domain:
            continue
        db = sqlite3.connect("file:%s?mode=ro" % s["path"], uri=True)
        names = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\' AND name NOT LIKE '\\_cdc\\_%' ESCAPE '\\' ORDER BY name")]
        conninfo = targets[s["domain"]]
        if conninfo not in sessions:
            sessions[conninfo] = Psql(conninfo)
        pg = sessions[conninfo]
        for t in names:
            n = db.execute("SELECT count(*) FROM %s" % qi(t)).fetchone()[0]
            target = (s.get("table_prefix") or "") + t
            lit = "'" + qi(target).replace("'", "''") + "'"
            got = pg.query("SELECT to_regclass(%s) IS NOT NULL" % lit)
            if got and got[0][0] == "t":
                got = pg.query("SELECT count(*) FROM %s" % qi(target))
            elif got:
                got = [["-1"]]
            if got is None:
                errors.append("%s: cannot count %s" % (s["name"], target))
                continue
            m = int(got[0][0])
            if m == -1 and n == 0:
                m = 0  # nothing was ever sent: the sink had no reason to create it
            if m != n:
                errors.append("%s.%s -> %s: SQLite %d row(s), PostgreSQL %s" % (
                    s["name"], t, target, n, "no table" if m == -1 else "%d row(s)" % m))
            tables += 1
            rows += n
        db.close()
    for pg in sessions.values():
        pg.close()
    for e in errors:
        print(e)
    print("counts: %d table(s), %d source row(s), %d difference(s)" % (tables, rows, len(errors)))
    return 1 if errors else 0


# --------------------------------------------------------------------------------------
# audit report


def cmd_audit(args):
    if len(args) != 1:
        usage()
    rep = json.load(open(args[0]))
    errors = list(rep.get("errors") or [])
    status = {}
    rows = 0
    for t in rep["tables"]:
        status[t["status"]] = status.get(t["status"], 0) + 1
        if t["status"] != "match":
            errors.append("%s.%s -> %s: %s (missing %s, extra %s, different %s, misfit %s) %s" % (
                t["source"], t["table"], t["target_table"], t["status"], t.get("missing"),
                t.get("extra"), t.get("different"), t.get("misfit"),
                json.dumps(t.get("keys", [])[:5]) + (" " + t["error"] if "error" in t else "")))
        else:
            rows += t["source_stats"]["rows"]
    for c in rep.get("checks", []):
        if c["status"] != "ok":
            errors.append("check %s: %s (source %s, target %s)" % (
                c["name"], c["status"], c.get("source_value"), c.get("target_value")))
    for e in errors[:40]:
        print(e)
    print("audit: result %s, %d table(s) %s, %d row(s) equal, %d check(s) ok, %d problem(s)" % (
        rep.get("result"), len(rep["tables"]), json.dumps(status, sort_keys=True), rows,
        len([c for c in rep.get("checks", []) if c["status"] == "ok"]), len(errors)))
    return 1 if errors or rep.get("result") != "match" else 0


# --------------------------------------------------------------------------------------
# partition ownership from the logs

TS = re.compile(r"^ts=(\S+) ")


def ts_ms(s):
    d = datetime.datetime.strptime(s.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def cmd_ownership(args):
    if len(args) < 2:
        usage()
    topic = args[0]
    assigned = re.compile(r"assigned %s \[(\d+)\]" % re.escape(topic))
    revoked = re.compile(r"partition\(s\) of %s revoked" % re.escape(topic))
    intervals = []  # (partition, start, end, worker)
    for spec in args[1:]:
        path, _, kill = spec.partition("@")
        kill_ms = int(kill) if kill else None
        held, last_ts = {}, 0
        for line in open(path, errors="replace"):
            m = TS.match(line)
            if not m:
                continue
            t = last_ts = ts_ms(m.group(1))
            a = assigned.search(line)
            if a:
                held[int(a.group(1))] = t
            elif revoked.search(line):
                for p, start in held.items():
                    intervals.append((p, start, t, path))
                held = {}
        end = kill_ms if kill_ms is not None else last_ts
        for p, start in held.items():
            intervals.append((p, start, end, path))
    errors = []
    for p in sorted({i[0] for i in intervals}):
        mine = sorted([i for i in intervals if i[0] == p], key=lambda i: i[1])
        for a, b in zip(mine, mine[1:]):
            if b[1] < a[2] and a[3] != b[3]:
                errors.append("partition %d: %s held it %d..%d, %s from %d" % (
                    p, a[3], a[1], a[2], b[3], b[1]))
    workers = {}
    for i in intervals:
        workers.setdefault(os.path.basename(i[3]), set()).add(i[0])
    for e in errors:
        print(e)
    print("ownership: %d interval(s); partitions per worker %s; %d overlap(s)" % (
        len(intervals), json.dumps({w: sorted(p) for w, p in sorted(workers.items())}),
        len(errors)))
    return 1 if errors else 0


def main():
    if len(sys.argv) < 2:
        usage()
    cmds = {"sample": cmd_sample, "counts": cmd_counts, "audit": cmd_audit,
            "ownership": cmd_ownership}
    if sys.argv[1] not in cmds:
        usage()
    return cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())

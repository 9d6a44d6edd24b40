#!/usr/bin/python3
"""Scrapes a worker's /metrics over HTTP and checks or queries the Prometheus text format.

  metrics_scrape.py check URL [NAME...]
      GET URL: status 200, Content-Type text/plain; version=0.0.4; then a strict parse of
      the exposition format 0.0.4: every line is a HELP, a TYPE or a sample matching the
      grammar; a family has one HELP and one TYPE, both before its samples, which are
      contiguous; counter families end in _total; histogram families have only _bucket
      (with le, cumulative, ending at le="+Inf" equal to _count), _sum and _count; label
      names valid and not repeated; values are floats. Each NAME must be present as a
      family. Prints a summary; exit 1 listing every violation.
  metrics_scrape.py sum|max|count URL NAME [LABEL=VALUE...]
      The sum / maximum / number of the samples named NAME whose labels include the given
      pairs. Exit 1 when none matches (an absent series is an error, not 0).
  metrics_scrape.py sums URL NAME...
      The sum of the samples of each NAME, from ONE scrape (consistent with each other),
      space-separated; "absent" for a NAME without samples.
  metrics_scrape.py families URL...
      The metric families (TYPE lines) served at any of the URLs, one per line.
  metrics_scrape.py status URL
      Prints the HTTP status of a GET (e.g. 404 for another path).
"""
import math
import re
import sys
import urllib.error
import urllib.request

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"[^\s]+"
SAMPLE_RE = re.compile(r"^(%s)(\{(.*)\})? (%s)( -?[0-9]+)?$" % (NAME, VALUE))
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
PAIR_RE = re.compile(r'(%s)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"' % LABEL)


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), ""


def parse_labels(text, errors, where):
    labels = {}
    pos = 0
    while pos < len(text):
        m = PAIR_RE.match(text, pos)
        if not m:
            errors.append("%s: bad label list {%s}" % (where, text))
            return labels
        if m.group(1) in labels:
            errors.append("%s: label %s repeated" % (where, m.group(1)))
        if m.group(1).startswith("__"):
            errors.append("%s: reserved label name %s" % (where, m.group(1)))
        labels[m.group(1)] = m.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                errors.append("%s: expected ',' in {%s}" % (where, text))
                return labels
            pos += 1
            if pos == len(text):
                errors.append("%s: trailing ',' in {%s}" % (where, text))
    return labels


def parse_value(s):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$", s):
        raise ValueError(s)
    return float(s)


def family_of(name, types):
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            return name[: -len(suffix)]
    return None


def parse(text):
    """Returns (samples, types, errors); samples are (name, labels, value)."""
    errors, samples = [], []
    types, helps, done = {}, {}, set()
    current = None
    if not text.endswith("\n"):
        errors.append("the body does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % n
        if line == "":
            continue
        if line.startswith("#"):
            m = HELP_RE.match(line)
            if m:
                if m.group(1) in helps:
                    errors.append("%s: second HELP for %s" % (where, m.group(1)))
                if m.group(1) in types:
                    errors.append("%s: HELP for %s after its TYPE" % (where, m.group(1)))
                helps[m.group(1)] = m.group(2)
                continue
            m = TYPE_RE.match(line)
            if m:
                name = m.group(1)
                if name in types:
                    errors.append("%s: second TYPE for %s" % (where, name))
                if name in done or any(s[0] == name for s in samples):
                    errors.append("%s: TYPE for %s after its samples" % (where, name))
                types[name] = m.group(2)
                if m.group(2) == "counter" and not name.endswith("_total"):
                    errors.append("%s: counter %s does not end in _total" % (where, name))
                if m.group(2) != "counter" and name.endswith("_total"):
                    errors.append("%s: %s %s ends in _total" % (where, m.group(2), name))
                continue
            if line.startswith("# HELP") or line.startswith("# TYPE"):
                errors.append("%s: malformed: %s" % (where, line))
            continue  # other comments are allowed
        m = SAMPLE_RE.match(line)
        if not m:
            errors.append("%s: not a sample: %s" % (where, line))
            continue
        name = m.group(1)
        labels = parse_labels(m.group(3) or "", errors, where) if m.group(2) else {}
        try:
            value = parse_value(m.group(4))
        except ValueError:
            errors.append("%s: bad value %s" % (where, m.group(4)))
            continue
        fam = family_of(name, types)
        if fam is None:
            errors.append("%s: sample %s before (or without) its TYPE line" % (where, name))
            continue
        if fam not in helps:
            errors.append("%s: family %s has no HELP" % (where, fam))
        if fam != current:
            if fam in done:
                errors.append("%s: samples of %s are not contiguous" % (where, fam))
            if current is not None:
                done.add(current)
            current = fam
        kind = types[fam]
        if kind == "histogram":
            if name == fam:
                errors.append("%s: histogram %s sample without _bucket/_sum/_count" % (where, fam))
            if name.endswith("_bucket") and "le" not in labels:
                errors.append("%s: bucket without le" % where)
            if not name.endswith("_bucket") and "le" in labels:
                errors.append("%s: le on %s" % (where, name))
        elif name != fam:
            errors.append("%s: sample %s in family %s" % (where, name, fam))
        if kind == "counter" and (value < 0 or math.isnan(value)):
            errors.append("%s: counter %s = %s" % (where, name, value))
        samples.append((name, labels, value))
    check_histograms(samples, types, errors)
    return samples, types, errors


def check_histograms(samples, types, errors):
    series = {}
    for name, labels, value in samples:
        fam = family_of(name, types)
        if types.get(fam) != "histogram":
            continue
        key = (fam, tuple(sorted((k, v) for k, v in labels.items() if k != "le")))
        h = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if name.endswith("_bucket"):
            h["buckets"].append((labels.get("le"), value))
        elif name.endswith("_sum"):
            h["sum"] = value
        elif name.endswith("_count"):
            h["count"] = value
    for (fam, labels), h in series.items():
        where = "%s%s" % (fam, dict(labels))
        if h["sum"] is None or h["count"] is None or not h["buckets"]:
            errors.append("%s: histogram lacks _bucket, _sum or _count" % where)
            continue
        if h["buckets"][-1][0] != "+Inf":
            errors.append("%s: last bucket is not le=\"+Inf\"" % where)
        last_le, last_v = -math.inf, 0
        for le, v in h["buckets"]:
            try:
                bound = parse_value(le)
            except ValueError:
                errors.append("%s: bad le %s" % (where, le))
                continue
            if bound <= last_le or v < last_v:
                errors.append("%s: buckets not increasing at le=%s" % (where, le))
            last_le, last_v = bound, v
        if h["buckets"][-1][1] != h["count"]:
            errors.append("%s: +Inf bucket %s != count %s" % (where, h["buckets"][-1][1], h["count"]))


def cmd_check(url, names):
    status, ctype, body = fetch(url)
    errors = []
    if status != 200:
        errors.append("GET %s: HTTP %d" % (url, status))
    if not re.match(r"^text/plain; ?version=0\.0\.4", ctype):
        errors.append("GET %s: Content-Type %r" % (url, ctype))
    samples, types, perr = parse(body)
    errors += perr
    for n in names:
        if n not in types:
            errors.append("family %s missing" % n)
    for e in errors:
        print("metrics: " + e)
    print("metrics %s: %d families, %d samples, %d violation(s)" % (url, len(types), len(samples), len(errors)))
    return 1 if errors else 0


def cmd_query(op, url, name, pairs):
    want = dict(p.split("=", 1) for p in pairs)
    status, _, body = fetch(url)
    if status != 200:
        sys.exit("GET %s: HTTP %d" % (url, status))
    samples, _, errors = parse(body)
    if errors:
        sys.exit("metrics at %s do not parse: %s" % (url, errors[0]))
    vals = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in want.items())]
    if not vals:
        print("absent")
        return 1
    out = {"sum": sum(vals), "max": max(vals), "count": len(vals)}[op]
    print(int(out) if float(out).is_integer() else out)
    return 0


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "check":
        return cmd_check(a[1], a[2:])
    if len(a) >= 3 and a[0] in ("sum", "max", "count"):
        return cmd_query(a[0], a[1], a[2], a[3:])
    if len(a) >= 3 and a[0] == "sums":
        samples, _, errors = parse(fetch(a[1])[2])
        if errors:
            sys.exit("metrics at %s do not parse: %s" % (a[1], errors[0]))
        out = []
        for name in a[2:]:
            vals = [v for n, _, v in samples if n == name]
            out.append("absent" if not vals else "%g" % sum(vals))
        print(" ".join(out))
        return 0
    if len(a) >= 2 and a[0] == "families":
        names = set()
        for url in a[1:]:
            names.update(parse(fetch(url)[2])[1])
        print("\n".join(sorted(names)))
        return 0
    if len(a) == 2 and a[0] == "status":
        print(fetch(a[1])[0])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

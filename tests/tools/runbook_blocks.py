#!/usr/bin/python3
"""Marked fenced blocks of the runbooks (runbooks/*.md), for the test that runs them
(tests/integration/runbooks*.test.sh), so that a runbook's commands cannot rot.

A fenced block whose info string carries `test=ID step=STEP` is a step of runbook test
ID: a `bash` block is run by the test, any other language (e.g. `yaml`) is data the test
uses (a config entry). A block `text expect=ID step=STEP` lists lines that the output of
that step (stdout and stderr) must contain: each non-empty line is a literal substring of
one output line, except that `…` stands for any text and `$VAR` / `${VAR}` are replaced
by the variable's value from the environment. Blocks without a marker (Docker,
Kubernetes, systemd, SQL for a human) are never run.

  runbook_blocks.py list DIR
      one line per marked block: ID STEP KIND FILE:LINE (KIND: run, data, expect);
      exit 1 when the marks are inconsistent (a duplicate ID/STEP, an expect block
      without its step, a marker without step=)
  runbook_blocks.py get DIR ID STEP
      the body of the step's run or data block (exit 1 if there is none)
  runbook_blocks.py expect DIR ID STEP OUTPUT_FILE
      checks the step's expect block (if any) against OUTPUT_FILE; prints what is
      missing and exits 1; exit 0 when everything was found or there is no block
"""
import os
import re
import sys

FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*(.*)$")
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def parse_info(info):
    """Language and key=value attributes of a fence's info string."""
    words = info.split()
    lang = words[0] if words and "=" not in words[0] else ""
    attrs = {}
    for w in words:
        if "=" in w:
            k, v = w.split("=", 1)
            attrs[k] = v
    return lang, attrs


def blocks(directory):
    """Every marked block of DIR/*.md: dicts with id, step, kind, lang, body, where."""
    out = []
    errors = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".md"):
            continue
        path = os.path.join(directory, name)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            fence, info, start = m.group(2), m.group(3), i
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i])
                i += 1
            i += 1
            lang, attrs = parse_info(info)
            where = "%s:%d" % (name, start + 1)
            if "test" in attrs or "expect" in attrs:
                if "step" not in attrs:
                    errors.append("%s: marked block without step=" % where)
                    continue
                if "expect" in attrs:
                    kind, ident = "expect", attrs["expect"]
                else:
                    kind, ident = ("run" if lang in ("bash", "sh") else "data"), attrs["test"]
                out.append({"id": ident, "step": attrs["step"], "kind": kind, "lang": lang,
                            "body": "\n".join(body) + "\n", "where": where})
    seen = {}
    for b in out:
        k = (b["id"], b["step"], b["kind"] == "expect")
        if k in seen:
            errors.append("%s: step %s/%s already marked at %s" % (b["where"], b["id"], b["step"],
                                                                  seen[k]))
        seen[k] = b["where"]
    for b in out:
        if b["kind"] == "expect" and (b["id"], b["step"], False) not in seen:
            errors.append("%s: expect block of %s/%s, which has no run block" % (b["where"], b["id"],
                                                                               b["step"]))
    return out, errors


def expand(line):
    def sub(m):
        name = m.group(1) or m.group(2)
        return os.environ.get(name, m.group(0))
    return VAR.sub(sub, line)


def pattern(line):
    """A regex for one expect line: literal text, `…` = any text."""
    return re.compile(".*".join(re.escape(part) for part in expand(line).split("…")))


def main(argv):
    if len(argv) < 3 or argv[1] not in ("list", "get", "expect"):
        sys.stderr.write(__doc__)
        return 2
    found, errors = blocks(argv[2])
    for e in errors:
        print("runbook_blocks: " + e, file=sys.stderr)
    if argv[1] == "list":
        for b in found:
            print(b["id"], b["step"], b["kind"], b["where"])
        return 1 if errors else 0
    if errors:
        return 1
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    ident, step = argv[3], argv[4]
    if argv[1] == "get":
        for b in found:
            if b["id"] == ident and b["step"] == step and b["kind"] != "expect":
                sys.stdout.write(b["body"])
                return 0
        print("runbook_blocks: no block test=%s step=%s in %s" % (ident, step, argv[2]),
              file=sys.stderr)
        return 1
    if len(argv) < 6:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[5], encoding="utf-8", errors="replace") as f:
        output = f.read().split("\n")
    missing = []
    for b in found:
        if b["id"] == ident and b["step"] == step and b["kind"] == "expect":
            for line in b["body"].split("\n"):
                if not line.strip():
                    continue
                rx = pattern(line.strip())
                if not any(rx.search(o) for o in output):
                    missing.append(line.strip())
    for m in missing:
        print("runbook_blocks: %s/%s: expected output line not found: %s" % (ident, step, expand(m)),
              file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

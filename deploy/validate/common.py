"""Shared helpers of the deploy checks: a result collector and the pipeline facts.

Every check reports through Report; a failure names the file and the thing that is wrong.
Run the checks with deploy/validate/deploy_check.py (tests/integration/deploy_static.test.sh).
"""

import os
import re
import sys

import yaml


class Report:
    """Collects ok/fail/skip lines; the process exit code is 1 when anything failed."""

    def __init__(self):
        self.failures = 0
        self.oks = 0
        self.skips = 0

    def ok(self, what):
        self.oks += 1
        print(f"ok    {what}")

    def fail(self, what):
        self.failures += 1
        print(f"FAIL  {what}")

    def skip(self, what):
        self.skips += 1
        print(f"skip  {what}")

    def check(self, cond, what):
        """ok(what) when cond holds, else fail(what); returns cond."""
        if cond:
            self.ok(what)
        else:
            self.fail(what)
        return bool(cond)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_yaml_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def yaml_files(root):
    """Every YAML file the deploy work owns: docker-compose.yml and deploy/**."""
    out = [os.path.join(root, "docker-compose.yml")]
    for dirpath, _dirs, files in os.walk(os.path.join(root, "deploy")):
        for name in sorted(files):
            if name.endswith((".yml", ".yaml")):
                out.append(os.path.join(dirpath, name))
    return sorted(out)


class Pipeline:
    """The facts of a pipeline file the deploy files must agree with."""

    def __init__(self, path=None, text=None):
        self.path = path or "<text>"
        self.doc = yaml.safe_load(text) if text is not None else load_yaml(path)
        self.prefix = self.doc.get("topic_prefix", "cdc")
        self.domains = {d["name"]: d for d in self.doc["domains"]}
        self.partitions = {d["name"]: int(d.get("partitions", 6)) for d in self.doc["domains"]}

    def dbnames(self):
        """Target database names of every domain (from the libpq conninfo)."""
        names = set()
        for d in self.doc["domains"]:
            m = re.search(r"dbname=(\S+)", d["target"])
            if m:
                names.add(m.group(1).strip("'\""))
        return names

    def sink_group(self, domain):
        return f"{self.prefix}.{domain}.sink"

    def topic(self, domain):
        return f"{self.prefix}.{domain}"


def die(msg):
    print(f"deploy_check: {msg}", file=sys.stderr)
    sys.exit(2)

#!/usr/bin/python3
"""Static checks of the deployment files (no Docker engine, no cluster needed).

  deploy_check.py --root DIR --compose-resolved FILE [--bin-dir DIR] [--only PART]...

PART: yaml, compose, pipeline, k8s, dockerfile, cli (default: all). --compose-resolved is
the output of `docker-compose config` (interpolated, anchors merged); --bin-dir holds the
installed binaries (cmake --install) for the library and command-line checks.
Prints one line per check (ok / FAIL / skip). Exit codes: 0 every check passed, 1 a check
failed, 2 usage error. Runs under Debian's /usr/bin/python3 (python3-yaml,
python3-jsonschema, python3-kubernetes, docker-compose's schema).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import yaml  # noqa: E402

from common import Report, yaml_files  # noqa: E402

PARTS = ["yaml", "compose", "pipeline", "k8s", "dockerfile", "cli"]


def check_yaml(rep, root):
    for path in yaml_files(root):
        rel = os.path.relpath(path, root)
        try:
            with open(path, encoding="utf-8") as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            rep.check(bool(docs), f"{rel}: YAML parses")
        except yaml.YAMLError as e:
            rep.fail(f"{rel}: YAML does not parse: {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--root", required=True)
    ap.add_argument("--compose-resolved", required=True)
    ap.add_argument("--bin-dir")
    ap.add_argument("--only", action="append", choices=PARTS)
    a = ap.parse_args()
    parts = a.only or PARTS
    rep = Report()
    if "yaml" in parts:
        check_yaml(rep, a.root)
    if "compose" in parts:
        import check_compose
        check_compose.check_schema(rep, a.root)
        check_compose.check_structure(rep, a.root, a.compose_resolved)
        check_compose.check_secrets_and_env(rep, a.root)
    if "pipeline" in parts:
        import check_compose
        check_compose.check_pipeline(rep, a.root)
    if "k8s" in parts:
        import check_k8s
        check_k8s.check(rep, a.root)
    if "dockerfile" in parts:
        import check_dockerfile
        check_dockerfile.check(rep, a.root, a.bin_dir)
    if "cli" in parts:
        import check_cli
        check_cli.check(rep, a.root, a.compose_resolved, a.bin_dir)
    print(f"deploy_check: {rep.oks} ok, {rep.failures} failed, {rep.skips} skipped")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""The command lines of the deploy files against the binaries: every cdc-* command in
docker-compose.yml, deploy/k8s, deploy/systemd and the Dockerfile names an installed
binary and only options that binary's --help documents; domains exist in the pipeline."""

import glob
import os
import re
import shlex
import subprocess

from common import Pipeline, load_yaml, load_yaml_all

KNOWN = {"cdc-producer", "cdc-sink", "cdc-validator", "cdc-ctl", "cdc-fixtures", "cdc-workload"}


def commands(root, resolved_compose):
    """(where, argv) of every cdc-* invocation in the deploy files."""
    out = []

    def add(where, argv):
        argv = [str(a) for a in argv]
        if argv and argv[0] in ("sh", "bash") and "-c" in argv:
            script = argv[argv.index("-c") + 1]
            for part in re.split(r"[;&|]+|\bthen\b|\bfi\b", script):
                words = shlex.split(part.strip()) if part.strip() else []
                if words and words[0].startswith("cdc-"):
                    out.append((where, words))
        elif argv and os.path.basename(argv[0]).startswith("cdc-"):
            out.append((where, [os.path.basename(argv[0])] + argv[1:]))

    for n, s in load_yaml(resolved_compose)["services"].items():
        cmd = s.get("command")
        if cmd:
            add(f"docker-compose.yml service {n}", cmd if isinstance(cmd, list) else shlex.split(cmd))
    for path in sorted(glob.glob(os.path.join(root, "deploy/k8s/*.yml"))):
        for doc in load_yaml_all(path):
            tmpl = (doc.get("spec") or {}).get("template")
            if not tmpl:
                continue
            for c in tmpl["spec"].get("initContainers", []) + tmpl["spec"]["containers"]:
                add(f"{os.path.basename(path)} {doc['metadata']['name']}/{c['name']}",
                    c.get("command", []) + c.get("args", []))
    for path in sorted(glob.glob(os.path.join(root, "deploy/systemd/*.service"))):
        for ln in open(path, encoding="utf-8"):
            if ln.startswith("ExecStart="):
                add(os.path.basename(path), shlex.split(ln.split("=", 1)[1]))
    for ln in open(os.path.join(root, "deploy/Dockerfile"), encoding="utf-8"):
        if ln.startswith("CMD ["):
            add("deploy/Dockerfile CMD", [w.strip(' "') for w in ln[4:].strip(" []\n").split(",")])
    return out


def check(rep, root, resolved_compose, bin_dir):
    cmds = commands(root, resolved_compose)
    rep.check(len(cmds) >= 15, f"{len(cmds)} cdc-* command lines found in the deploy files")
    pipe = Pipeline(os.path.join(root, "deploy/compose/pipeline.yml"))
    helps = {}
    for where, argv in cmds:
        b = argv[0]
        if not rep.check(b in KNOWN, f"{where}: {b} is one of the project's binaries"):
            continue
        if "--domain" in argv:
            d = argv[argv.index("--domain") + 1]
            if not d.startswith("%"):
                rep.check(d in pipe.domains, f"{where}: domain {d} is in the pipeline")
        if "-c" in argv:
            rep.check(argv[argv.index("-c") + 1] == "/etc/cdc/pipeline.yml",
                      f"{where}: reads /etc/cdc/pipeline.yml")
        exe = os.path.join(bin_dir, b) if bin_dir else ""
        if not (exe and os.access(exe, os.X_OK)):
            rep.skip(f"{where}: {b} is not built here; its options are not checked")
            continue
        # cdc-ctl takes a subcommand first; its options are in `cdc-ctl SUB --help`.
        sub = argv[1] if b == "cdc-ctl" and len(argv) > 1 and not argv[1].startswith("-") else None
        for key, args in ((b, [exe, "--help"]), ((b, sub), [exe, sub, "--help"])):
            if (key == (b, None)) or key in helps:
                continue
            r = subprocess.run(args, capture_output=True, text=True, timeout=20)
            helps[key] = r.stdout + r.stderr
            rep.check(r.returncode == 0, f"{' '.join([b] + args[1:])} exits 0")
        text = helps[b] + helps.get((b, sub), "")
        opts = [a.split("=")[0] for a in argv[1:] if a.startswith("-")]
        words = [sub] if sub else []
        missing = [o for o in opts + words
                   if not re.search(r"(^|[\s,\[|])" + re.escape(o) + r"\b", text, re.M)]
        rep.check(not missing, f"{where}: {b} --help documents {' '.join(opts + words) or '(no options)'}"
                  + ("" if not missing else f" — NOT: {' '.join(missing)}"))

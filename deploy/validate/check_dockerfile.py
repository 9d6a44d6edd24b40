"""deploy/Dockerfile without a Docker engine: the instructions are parsed, every RUN step
goes through shellcheck (as /bin/sh runs it), and the image's promises are checked: two
stages on Debian bookworm, non-root final user, runtime packages that cover every shared
library the built binaries link, the build context (.dockerignore) keeping what the build
needs."""

import fnmatch
import os
import re
import shutil
import subprocess
import tempfile

BASE_PACKAGES = {"libc6", "libgcc-s1", "zlib1g"}  # in debian:bookworm-slim already


def parse(path):
    """[(instruction, argument text, line)] with continuations joined, comments dropped."""
    out, buf, start = [], "", 0
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if buf and line.lstrip().startswith("#"):
                continue
            if not buf:
                start = n
            if line.endswith("\\"):
                buf += line + "\n"  # keep the continuation: shellcheck reads it as sh does
                continue
            buf += line
            ins, _, arg = buf.strip().partition(" ")
            out.append((ins.upper(), arg.strip(), start))
            buf = ""
    return out


def stages(instrs):
    st = []
    for ins, arg, n in instrs:
        if ins == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", arg, re.I)
            st.append({"image": m.group(1), "name": m.group(2), "line": n, "instrs": []})
        elif st:
            st[-1]["instrs"].append((ins, arg, n))
    return st


def apt_packages(run_arg):
    m = re.search(r"apt-get install([^&;]*)", run_arg)
    if not m:
        return set()
    return {w for w in m.group(1).split() if not w.startswith("-") and w != "\\"}


def _ignored(rel, patterns):
    """Docker's .dockerignore rule: the last matching pattern wins; '!' re-includes."""
    ignored = False
    parts = rel.split("/")
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.strip("/")
        cands = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        hit = False
        for c in cands:
            if p.startswith("**/"):
                if fnmatch.fnmatch(c.split("/")[-1], p[3:]) or fnmatch.fnmatch(c, p[3:]):
                    hit = True
            elif fnmatch.fnmatch(c, p) and c.count("/") == p.count("/"):
                hit = True
        if hit:
            ignored = not neg
    return ignored


def needed_packages(bin_dir):
    """Debian packages of the shared libraries the binaries in bin_dir link directly."""
    pkgs, libs = set(), set()
    for name in sorted(os.listdir(bin_dir)):
        out = subprocess.run(["readelf", "-d", os.path.join(bin_dir, name)],
                             capture_output=True, text=True, check=True).stdout
        libs.update(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out))
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    where = {}
    for ln in cache.splitlines():
        m = re.match(r"\s*(\S+) \(.*?x86-64.*?\) => (\S+)", ln) or re.match(r"\s*(\S+) \(.*?\) => (\S+)", ln)
        if m and m.group(1) not in where:
            where[m.group(1)] = m.group(2)
    missing = []
    for so in sorted(libs):
        path = where.get(so)
        pkg = None
        for cand in filter(None, [path, path and os.path.realpath(path),
                                  path and re.sub(r"^/usr", "", path),
                                  path and re.sub(r"^/usr", "", os.path.realpath(path))]):
            r = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
            if r.returncode == 0:
                pkg = r.stdout.split(":")[0]
                break
        if pkg:
            pkgs.add(pkg)
        else:
            missing.append(so)
    return pkgs, missing


def check(rep, root, bin_dir):
    path = os.path.join(root, "deploy/Dockerfile")
    instrs = parse(path)
    st = stages(instrs)
    rep.check(len(st) == 2 and st[0]["image"] == "debian:bookworm"
              and st[1]["image"] == "debian:bookworm-slim",
              "Dockerfile: build stage debian:bookworm, runtime stage debian:bookworm-slim")
    if len(st) != 2:
        return
    build, final = st
    build_runs = " ".join(a for i, a, _ in build["instrs"] if i == "RUN")
    final_runs = [a for i, a, _ in final["instrs"] if i == "RUN"]
    build_pkgs = apt_packages(build_runs)
    final_pkgs = set().union(*(apt_packages(a) for a in final_runs))

    deps = open(os.path.join(root, "scripts/deps.sh"), encoding="utf-8").read()
    dev = set(re.findall(r"\b(lib[\w.+-]+-dev)\b", deps))
    rep.check(dev <= build_pkgs and {"build-essential", "cmake", "pkg-config"} <= build_pkgs,
              "Dockerfile build stage: compilers and every -dev package of scripts/deps.sh"
              + ("" if dev <= build_pkgs else f" (missing {sorted(dev - build_pkgs)})"))
    rep.check(not any(p.endswith("-dev") or p in ("build-essential", "cmake", "gcc")
                      for p in final_pkgs),
              "Dockerfile runtime stage: no compiler or -dev package")
    rep.check(all("--no-install-recommends" in a and "rm -rf /var/lib/apt/lists" in a
                  for a in [build_runs] + final_runs if "apt-get install" in a),
              "Dockerfile: apt-get install --no-install-recommends, lists removed in the same layer")
    rep.check("cmake --install" in build_runs and "/opt/cdc" in build_runs,
              "Dockerfile: cmake --install into /opt/cdc")
    copies = [a for i, a, _ in final["instrs"] if i == "COPY"]
    rep.check(any(a.startswith(f"--from={build['name']}") and "/opt/cdc/bin" in a for a in copies),
              "Dockerfile: the runtime stage copies only the installed binaries from the build stage")
    users = [a for i, a, _ in final["instrs"] if i == "USER"]
    rep.check(bool(users) and users[-1].split(":")[0] == "10001",
              "Dockerfile: the final user is uid 10001 (non-root)")
    ent = [a for i, a, _ in final["instrs"] if i == "ENTRYPOINT"]
    cmd = [a for i, a, _ in final["instrs"] if i == "CMD"]
    rep.check(ent and "tini" in ent[-1] and "tini" in final_pkgs,
              "Dockerfile: tini is the entrypoint (signals reach the worker) and installed")
    rep.check(cmd and '"cdc-producer"' in cmd[-1], "Dockerfile: the default command is cdc-producer")
    hc = [a for i, a, _ in final["instrs"] if i == "HEALTHCHECK"]
    rep.check(hc and "cdc-healthcheck" in hc[-1], "Dockerfile: HEALTHCHECK runs cdc-healthcheck")

    # Every RUN step through shellcheck, as the default SHELL (/bin/sh -c) runs it.
    tmp = tempfile.mkdtemp()
    try:
        for k, (ins, arg, n) in enumerate(i for s in st for i in s["instrs"]):
            if ins != "RUN" or arg.startswith("["):
                continue
            f = os.path.join(tmp, f"run{k}.sh")
            with open(f, "w", encoding="utf-8") as out:
                out.write("#!/bin/sh\n" + arg + "\n")
            r = subprocess.run(["shellcheck", "-s", "sh", f], capture_output=True, text=True)
            rep.check(r.returncode == 0, f"Dockerfile line {n}: RUN passes shellcheck"
                      + ("" if r.returncode == 0 else "\n" + r.stdout))
    finally:
        shutil.rmtree(tmp)

    # The build context: .dockerignore keeps what the build needs and drops the rest.
    pats = [ln.strip() for ln in open(os.path.join(root, ".dockerignore"), encoding="utf-8")
            if ln.strip() and not ln.startswith("#")]
    needed = ["CMakeLists.txt", "libcdc/cdc_config.c", "producer/main.c",
              "consumers/sink_main.c", "tools/CMakeLists.txt", "tests/CMakeLists.txt",
              "deploy/docker/cdc-healthcheck"]
    for a in copies:
        src = a.split()[0]
        if not src.startswith("--") and src != ".":
            needed.append(src.rstrip("/"))
    kept = [p for p in needed if os.path.exists(os.path.join(root, p)) and not _ignored(p, pats)]
    rep.check(kept == needed, "build context keeps the sources and the files the Dockerfile copies"
              + ("" if kept == needed else f" (lost: {sorted(set(needed) - set(kept))})"))
    dropped = ["build-deploy/CMakeCache.txt", "build/x", ".git/HEAD", "demo-data/a.db",
               "tests/x/f.db", "x.db-wal", ".env"]
    rep.check(all(_ignored(p, pats) for p in dropped) and not _ignored(".env.example", pats),
              ".dockerignore drops build trees, databases, .git and .env")

    if bin_dir and os.path.isdir(bin_dir):
        pkgs, missing = needed_packages(bin_dir)
        # A -DCDC_SANITIZE=ON build links the sanitizer runtimes; the image is never one.
        sanitizers = {p for p in pkgs if re.match(r"lib(a|ub|l|t)san\d*$", p)}
        pkgs -= sanitizers
        uncovered = pkgs - final_pkgs - BASE_PACKAGES
        rep.check(not missing and not uncovered,
                  f"runtime packages cover every library the built binaries link ({sorted(pkgs)})"
                  + ("" if not uncovered else f"; missing {sorted(uncovered)}")
                  + ("" if not missing else f"; unresolved {missing}"))
    else:
        rep.skip("no installed binaries given: linked libraries not compared")

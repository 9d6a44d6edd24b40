"""docker-compose.yml and its pipeline: the compose specification's JSON schema (shipped
by Debian's docker-compose package) plus the structure the deployment relies on (start
order, scaling, mounts, secrets, one sink service per domain)."""

import json
import os
import re

import jsonschema

from common import Pipeline, load_yaml

COMPOSE_SCHEMA = "/usr/lib/python3/dist-packages/compose/config/compose_spec.json"
CONFIG_IN_CONTAINER = "/etc/cdc/pipeline.yml"


def schema_errors(doc):
    """Errors of doc against the compose specification schema, as 'path: message'."""
    with open(COMPOSE_SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    v = jsonschema.Draft7Validator(schema)
    errs = []
    for e in sorted(v.iter_errors(doc), key=lambda e: list(e.path)):
        errs.append("/".join(str(p) for p in e.path) + ": " + e.message)
    return errs


def check_schema(rep, root):
    path = os.path.join(root, "docker-compose.yml")
    doc = load_yaml(path)
    errs = schema_errors(doc)
    rep.check(not errs, "docker-compose.yml matches the compose specification schema"
              + ("" if not errs else ": " + "; ".join(errs[:5])))
    # The validator must be able to fail: a misspelt key and a wrong type are refused.
    bad = json.loads(json.dumps(doc))
    bad["services"]["producer"]["comand"] = ["cdc-producer"]
    bad["services"]["sink-crm"]["deploy"]["replicas"] = ["two"]
    rep.check(len(schema_errors(bad)) >= 2,
              "the compose schema check refuses a misspelt key and a wrong type")


def _argv(svc):
    cmd = svc.get("command")
    if isinstance(cmd, str):
        return cmd.split()
    return list(cmd or [])


def _mounts(svc):
    """(source, target, read_only) of every volume, short or long syntax."""
    out = []
    for v in svc.get("volumes", []) or []:
        if isinstance(v, str):
            parts = v.split(":")
            ro = len(parts) > 2 and "ro" in parts[2].split(",")
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0], ro))
        else:
            out.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
    return out


def _deps(svc):
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        return {k: "service_started" for k in d}
    return {k: (v or {}).get("condition", "service_started") for k, v in d.items()}


def _healthy(svc):
    hc = svc.get("healthcheck")
    return bool(hc) and not hc.get("disable") and hc.get("test") not in (None, ["NONE"])


def check_structure(rep, root, resolved_path):
    """resolved_path: `docker-compose config` output (interpolated, anchors merged)."""
    doc = load_yaml(resolved_path)
    svcs = doc["services"]
    pipe = Pipeline(os.path.join(root, "deploy/compose/pipeline.yml"))

    kafka = svcs.get("kafka", {})
    kenv = kafka.get("environment", {})
    rep.check(str(kafka.get("image", "")).startswith("apache/kafka:")
              and "controller" in str(kenv.get("KAFKA_PROCESS_ROLES", ""))
              and not any("ZOOKEEPER" in k for k in kenv),
              "kafka: the official apache/kafka image in KRaft mode (broker,controller, no ZooKeeper)")
    rep.check(str(kenv.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")).lower() == "false",
              "kafka: topic auto-creation is off (topics come from cdc-ctl topics)")
    rep.check(str(svcs.get("postgres", {}).get("image", "")).startswith("postgres:16"),
              "postgres: PostgreSQL 16")
    sr = svcs.get("schema-registry", {})
    rep.check("schema-registry" in str(sr.get("image", "")) and _healthy(sr),
              "schema-registry: a Confluent-compatible registry with a health check")

    cdc = {n: s for n, s in svcs.items()
           if "deploy/Dockerfile" in str((s.get("build") or {}).get("dockerfile", ""))}
    rep.check(len({s.get("image") for s in cdc.values()}) == 1 and len(cdc) >= 6,
              f"one image for every role ({', '.join(sorted(cdc))})")
    for n, s in sorted(cdc.items()):
        if CONFIG_IN_CONTAINER not in " ".join(_argv(s)):
            continue  # cdc-fixtures takes no config
        m = [x for x in _mounts(s) if x[1] == CONFIG_IN_CONTAINER]
        rep.check(len(m) == 1 and m[0][2] and m[0][0].endswith("deploy/compose/pipeline.yml"),
                  f"{n}: deploy/compose/pipeline.yml mounted read-only at {CONFIG_IN_CONTAINER}")
        env = s.get("environment") or {}
        rep.check("PGPASSWORD" in env, f"{n}: PGPASSWORD comes from the environment")

    # One sink service per domain, scalable.
    sinks = {n: s for n, s in cdc.items() if _argv(s)[:1] == ["cdc-sink"]}
    want = {f"sink-{d}" for d in pipe.domains}
    rep.check(set(sinks) == want, f"one sink service per domain: {sorted(want)}")
    for n, s in sorted(sinks.items()):
        argv = _argv(s)
        dom = argv[argv.index("--domain") + 1] if "--domain" in argv else None
        rep.check(n == f"sink-{dom}", f"{n}: runs --domain {dom}")
        rep.check("container_name" not in s and not s.get("ports"),
                  f"{n}: no container_name and no host port (docker compose up --scale works)")
        reps = int(((s.get("deploy") or {}).get("replicas")) or 1)
        rep.check(1 <= reps <= pipe.partitions.get(dom, 0),
                  f"{n}: deploy.replicas {reps} within the {pipe.partitions.get(dom)} partitions")
        deps = _deps(s)
        rep.check(deps.get("topics") == "service_completed_successfully"
                  and deps.get("postgres") == "service_healthy",
                  f"{n}: starts after topics exist and PostgreSQL is ready")

    topics = svcs.get("topics", {})
    rep.check(_argv(topics)[:4] == ["cdc-ctl", "topics", "-c", CONFIG_IN_CONTAINER]
              and topics.get("restart") in ("no", None)
              and _deps(topics).get("kafka") == "service_healthy",
              "topics: one-shot `cdc-ctl topics -c CONFIG` after Kafka is healthy")
    fx = svcs.get("fixtures", {})
    fx_cmd = " ".join(_argv(fx))
    rep.check("cdc-fixtures --out /data" in fx_cmd and "if [ -e" in fx_cmd
              and fx.get("restart") in ("no", None),
              "fixtures: one-shot cdc-fixtures --out /data, skipped when /data has the databases")
    prod = svcs.get("producer", {})
    pdeps = _deps(prod)
    rep.check(pdeps.get("fixtures") == "service_completed_successfully"
              and pdeps.get("topics") == "service_completed_successfully",
              "producer: starts after the fixtures and the topics")
    rep.check(int((prod.get("deploy") or {}).get("replicas", 1)) == 1,
              "producer: exactly one replica (it locks its state directory)")
    data_mounts = {n: [x for x in _mounts(s) if x[1] == "/data"] for n, s in svcs.items()}
    rep.check(bool(data_mounts.get("producer")) and bool(data_mounts.get("fixtures"))
              and data_mounts["producer"][0][0] == data_mounts["fixtures"][0][0],
              "producer and fixtures share the /data volume")
    state_dir = (pipe.doc.get("producer") or {}).get("state_dir", "")
    rep.check(state_dir.startswith("/data/"),
              f"producer.state_dir {state_dir} is on the /data volume")
    val = svcs.get("validator", {})
    rep.check(_argv(val)[:1] == ["cdc-validator"] and _deps(val).get("postgres") == "service_healthy",
              "validator: runs after PostgreSQL is ready")

    # Every service_healthy dependency has a health check to wait for.
    for n, s in sorted(svcs.items()):
        for dep, cond in sorted(_deps(s).items()):
            if cond == "service_healthy":
                rep.check(_healthy(svcs.get(dep, {})),
                          f"{n} waits for {dep} to be healthy, and {dep} has a health check")
            elif cond == "service_completed_successfully":
                rep.check(svcs.get(dep, {}).get("restart") in ("no", None),
                          f"{n} waits for one-shot {dep}, which is not restarted")

    prom = svcs.get("prometheus", {})
    rep.check("monitoring" in (prom.get("profiles") or []), "prometheus: in the monitoring profile")
    pcfg = load_yaml(os.path.join(root, "deploy/prometheus/prometheus.yml"))
    names = set()
    for job in pcfg["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            names.update(sd["names"])
    workers = {n for n, s in cdc.items() if _argv(s)[:1] in (["cdc-producer"], ["cdc-sink"],
                                                              ["cdc-validator"])}
    rep.check(names == workers, f"prometheus.yml scrapes every worker service: {sorted(workers)}")


def check_secrets_and_env(rep, root):
    text = open(os.path.join(root, "docker-compose.yml"), encoding="utf-8").read()
    literal = [ln.strip() for ln in text.splitlines()
               if re.search(r"PASSWORD\s*:", ln) and "${" not in ln]
    rep.check(not literal, "docker-compose.yml holds no literal password"
              + ("" if not literal else f": {literal}"))
    example = open(os.path.join(root, ".env.example"), encoding="utf-8").read()
    defined = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, re.M))
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", text))
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    rep.check(required and required <= {v for v in defined}
              and all(re.search(rf"^{v}=", example, re.M) for v in required),
              f".env.example sets every required variable: {sorted(required)}")
    rep.check(used <= defined, ".env.example documents every variable docker-compose.yml uses"
              + ("" if used <= defined else f" (missing: {sorted(used - defined)})"))


def check_pipeline(rep, root):
    """deploy/compose/pipeline.yml has the example's sources, domains and checks."""
    ex = Pipeline(os.path.join(root, "config/pipeline.example.yml")).doc
    co = Pipeline(os.path.join(root, "deploy/compose/pipeline.yml"))
    c = co.doc

    def srcs(doc, strip):
        out = []
        for s in doc["sources"]:
            t = dict(s)
            t["path"] = t["path"].replace(strip, "")
            out.append(t)
        return out

    rep.check(srcs(ex, "${CDC_DATA_DIR:-../demo-data}/") == srcs(c, "/data/"),
              "compose pipeline: the example's 20 sources, with their files under /data")
    strip = [(d["name"], d.get("partitions"), re.sub(r"host=\S+ port=\S+ ", "", d["target"]))
             for d in ex["domains"]]
    mine = [(d["name"], d.get("partitions"), re.sub(r"host=\S+ port=\S+ ", "", d["target"]))
            for d in c["domains"]]
    rep.check(strip == mine, "compose pipeline: the example's domains, partitions and databases")
    rep.check(all("host=${PGHOST:-postgres}" in d["target"] for d in c["domains"]),
              "compose pipeline: targets on the postgres service (PGHOST overrides)")
    rep.check(ex.get("checks") == c.get("checks") and ex.get("validation") == c.get("validation"),
              "compose pipeline: the example's business checks and validation topic")
    rep.check("kafka:9092" in str(c["kafka"].get("bootstrap.servers"))
              and "schema-registry:8081" in str((c.get("schema_registry") or {}).get("url")),
              "compose pipeline: Kafka at kafka:9092, registry at schema-registry:8081")
    text = open(co.path, encoding="utf-8").read()
    rep.check(not re.search(r"password\s*[:=]\s*[^$\s]", text, re.I),
              "compose pipeline: no password in the file")
    sql = open(os.path.join(root, "deploy/postgres-init/01-targets.sql"), encoding="utf-8").read()
    created = set(re.findall(r"CREATE DATABASE\s+(\w+)", sql, re.I))
    rep.check(co.dbnames() <= created,
              f"postgres-init creates every target database: {sorted(co.dbnames())}")

"""deploy/k8s/: every object of a built-in kind is checked field by field against the
Kubernetes API models of Debian's python3-kubernetes (unknown fields, wrong types, missing
required fields), KEDA ScaledObjects against KEDA's documented fields, and the objects
against each other and the pipeline (selectors, names, consumer groups, partitions)."""

import glob
import os
import re

import yaml

from common import Pipeline, load_yaml, load_yaml_all

from kubernetes import client as kclient  # python3-kubernetes (Debian)

MODELS = kclient.models
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def _model_class(api_version, kind):
    version = api_version.split("/")[-1]
    name = version[0].upper() + version[1:] + kind
    return getattr(MODELS, name, None)


def _walk(obj, typ, path, errs):
    """Strict structural check of obj against an OpenAPI model type name."""
    if obj is None:
        return
    if typ in PRIMITIVES:
        ok = isinstance(obj, PRIMITIVES[typ]) and not (typ != "bool" and isinstance(obj, bool))
        if not ok:
            errs.append(f"{path}: {obj!r} is not {typ}")
        return
    if typ in ("object", "datetime", "date"):
        return
    m = re.fullmatch(r"list\[(.+)\]", typ)
    if m:
        if not isinstance(obj, list):
            errs.append(f"{path}: not a list")
            return
        for i, item in enumerate(obj):
            _walk(item, m.group(1), f"{path}[{i}]", errs)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", typ)
    if m:
        if not isinstance(obj, dict):
            errs.append(f"{path}: not a map")
            return
        for k, v in obj.items():
            _walk(v, m.group(1), f"{path}.{k}", errs)
        return
    cls = getattr(MODELS, typ, None)
    if cls is None:
        errs.append(f"{path}: unknown model type {typ}")
        return
    if not isinstance(obj, dict):
        errs.append(f"{path}: not a map ({typ})")
        return
    by_json = {v: k for k, v in cls.attribute_map.items()}
    for key, val in obj.items():
        attr = by_json.get(key)
        if attr is None:
            errs.append(f"{path}.{key}: unknown field of {typ}")
            continue
        _walk(val, cls.openapi_types[attr], f"{path}.{key}", errs)


def api_errors(doc):
    """Errors of one manifest against the API models (None: kind not built in)."""
    cls = _model_class(doc.get("apiVersion", ""), doc.get("kind", ""))
    if cls is None:
        return None
    errs = []
    _walk(doc, cls.__name__, doc["kind"], errs)
    if not errs:
        # Required fields and enum checks live in the models' setters.
        try:
            kclient.ApiClient()._ApiClient__deserialize(doc, cls.__name__)
        except (ValueError, TypeError) as e:
            errs.append(f"{doc['kind']}: {e}")
    return errs


def _pod_specs(doc):
    kind = doc["kind"]
    if kind in ("Deployment", "StatefulSet", "Job"):
        return [doc["spec"]["template"]]
    return []


def _containers(tmpl):
    spec = tmpl["spec"]
    return spec.get("initContainers", []) + spec.get("containers", [])


def _selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_keda(rep, so, objs, pipe, bootstrap):
    name = so["metadata"]["name"]
    spec = so.get("spec") or {}
    allowed = {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "idleReplicaCount",
               "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers",
               "initialCooldownPeriod"}
    rep.check(set(spec) <= allowed and so["apiVersion"] == "keda.sh/v1alpha1",
              f"ScaledObject {name}: only KEDA's ScaledObject fields")
    target = spec.get("scaleTargetRef", {}).get("name")
    deps = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == target]
    if not rep.check(len(deps) == 1, f"ScaledObject {name}: targets Deployment {target}"):
        return
    argv = _containers(deps[0]["spec"]["template"])[0].get("command", [])
    domain = argv[argv.index("--domain") + 1] if "--domain" in argv else None
    trig = spec.get("triggers") or []
    rep.check(len(trig) == 1 and trig[0].get("type") == "kafka",
              f"ScaledObject {name}: one trigger of type kafka")
    md = trig[0].get("metadata", {}) if trig else {}
    rep.check(md.get("consumerGroup") == pipe.sink_group(domain),
              f"ScaledObject {name}: consumerGroup {pipe.sink_group(domain)} (the sinks' group)")
    rep.check(md.get("topic") == pipe.topic(domain), f"ScaledObject {name}: topic {pipe.topic(domain)}")
    rep.check(isinstance(md.get("lagThreshold"), str) and md["lagThreshold"].isdigit()
              and int(md["lagThreshold"]) > 0,
              f"ScaledObject {name}: lagThreshold is a positive integer string")
    rep.check(all(isinstance(v, str) for v in md.values()),
              f"ScaledObject {name}: trigger metadata values are strings (KEDA requires it)")
    rep.check(md.get("bootstrapServers") == bootstrap,
              f"ScaledObject {name}: bootstrapServers equals cdc-env CDC_BOOTSTRAP ({bootstrap})")
    rep.check(spec.get("maxReplicaCount") == pipe.partitions.get(domain)
              and 1 <= spec.get("minReplicaCount", 0) <= spec.get("maxReplicaCount", 0),
              f"ScaledObject {name}: 1 <= replicas <= {pipe.partitions.get(domain)} partitions of {domain}")


def check(rep, root):
    kdir = os.path.join(root, "deploy/k8s")
    objs = []
    for path in sorted(glob.glob(os.path.join(kdir, "*.yml"))):
        for doc in load_yaml_all(path):
            doc["_file"] = os.path.basename(path)
            objs.append(doc)
    rep.check(len(objs) > 10, f"deploy/k8s: {len(objs)} objects")

    for o in objs:
        ident = f"{o['_file']}: {o.get('kind')} {o.get('metadata', {}).get('name')}"
        clean = {k: v for k, v in o.items() if k != "_file"}
        errs = api_errors(clean)
        if errs is None:
            if o.get("kind") != "ScaledObject":
                rep.fail(f"{ident}: kind has no schema here")
            continue
        rep.check(not errs, f"{ident}: valid against the Kubernetes API"
                  + ("" if not errs else ": " + "; ".join(errs[:4])))
        if o["kind"] != "Namespace":
            rep.check(o["metadata"].get("namespace") == "cdc", f"{ident}: in namespace cdc")

    # The validator itself must fail on bad input.
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"replicas": "2", "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "imag": "i"}]}}}}
    e = api_errors(bad)
    rep.check(e and any("replicas" in x for x in e) and any("imag" in x for x in e),
              "the Kubernetes check refuses a wrong type and an unknown field")
    e = api_errors({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                    "spec": {"ports": [{"name": "m"}]}})
    rep.check(bool(e), "the Kubernetes check refuses a missing required field (ports[].port)")

    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    cms = {o["metadata"]["name"]: o for o in by_kind.get("ConfigMap", [])}
    secrets = {o["metadata"]["name"] for o in by_kind.get("Secret", [])}
    pipe_text = cms.get("cdc-pipeline", {}).get("data", {}).get("pipeline.yml", "")
    if not rep.check(bool(pipe_text), "ConfigMap cdc-pipeline holds pipeline.yml"):
        return
    pipe = Pipeline(text=pipe_text)
    compose_pipe = load_yaml(os.path.join(root, "deploy/compose/pipeline.yml"))
    rep.check(yaml.safe_load(pipe_text) == compose_pipe,
              "ConfigMap pipeline.yml equals deploy/compose/pipeline.yml")
    env = cms.get("cdc-env", {}).get("data", {})
    rep.check(all(k in env for k in ("CDC_BOOTSTRAP", "CDC_SCHEMA_REGISTRY_URL", "PGHOST")),
              "ConfigMap cdc-env sets CDC_BOOTSTRAP, CDC_SCHEMA_REGISTRY_URL and PGHOST")
    for s in by_kind.get("Secret", []):
        vals = list((s.get("stringData") or {}).values()) + list((s.get("data") or {}).values())
        rep.check(s["_file"].endswith(".example.yml") and all("CHANGE-ME" in v or v == "cdc" for v in vals),
                  f"Secret {s['metadata']['name']}: an example with placeholder values only")

    workloads = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet", "Job")]
    for w in workloads:
        name = f"{w['kind']} {w['metadata']['name']}"
        tmpl = w["spec"]["template"]
        labels = tmpl.get("metadata", {}).get("labels", {})
        if w["kind"] != "Job":
            rep.check(_selects(w["spec"]["selector"]["matchLabels"], labels),
                      f"{name}: selector matches its pod labels")
        psc = tmpl["spec"].get("securityContext", {})
        rep.check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001,
                  f"{name}: runs as non-root uid 10001")
        vols = {v["name"]: v for v in tmpl["spec"].get("volumes", [])}
        for vct in w["spec"].get("volumeClaimTemplates", []):
            vols[vct["metadata"]["name"]] = vct
        for c in _containers(tmpl):
            cname = f"{name}/{c['name']}"
            csc = c.get("securityContext", {})
            rep.check(csc.get("allowPrivilegeEscalation") is False
                      and csc.get("readOnlyRootFilesystem") is True
                      and "ALL" in csc.get("capabilities", {}).get("drop", []),
                      f"{cname}: no privilege escalation, read-only root, capabilities dropped")
            for ef in c.get("envFrom", []):
                if "configMapRef" in ef:
                    rep.check(ef["configMapRef"]["name"] in cms, f"{cname}: ConfigMap {ef['configMapRef']['name']} exists")
                if "secretRef" in ef:
                    rep.check(ef["secretRef"]["name"] in secrets, f"{cname}: Secret {ef['secretRef']['name']} exists")
            for vm in c.get("volumeMounts", []):
                rep.check(vm["name"] in vols, f"{cname}: volume {vm['name']} is defined")
                v = vols.get(vm["name"], {})
                if "configMap" in v:
                    rep.check(v["configMap"]["name"] in cms and vm.get("readOnly") is True,
                              f"{cname}: ConfigMap {v['configMap']['name']} mounted read-only")
            argv = c.get("command", [])
            if "--domain" in argv:
                d = argv[argv.index("--domain") + 1]
                rep.check(d in pipe.domains, f"{cname}: domain {d} is in the pipeline")
            for probe in ("readinessProbe", "livenessProbe"):
                port = (c.get(probe) or {}).get("httpGet", {}).get("port")
                if port is not None:
                    rep.check(port in [p.get("name") for p in c.get("ports", [])],
                              f"{cname}: {probe} uses a declared container port ({port})")

    sts = by_kind.get("StatefulSet", [])
    rep.check(len(sts) == 1 and sts[0]["spec"]["replicas"] == 1,
              "producer: one StatefulSet with one replica")
    if sts:
        s = sts[0]
        svc_names = {o["metadata"]["name"]: o for o in by_kind.get("Service", [])}
        hs = svc_names.get(s["spec"]["serviceName"], {})
        rep.check(hs.get("spec", {}).get("clusterIP") == "None",
                  f"producer: serviceName {s['spec']['serviceName']} is a headless Service")
        claims = [v["metadata"]["name"] for v in s["spec"].get("volumeClaimTemplates", [])]
        mounts = {vm["name"]: vm["mountPath"] for c in _containers(s["spec"]["template"])
                  for vm in c.get("volumeMounts", [])}
        rep.check(any(mounts.get(cl) == "/data" for cl in claims),
                  "producer: the PersistentVolumeClaim is mounted at /data (SQLite files)")
        sd = (pipe.doc.get("producer") or {}).get("state_dir", "")
        rep.check(sd.startswith("/data/"), f"producer: state_dir {sd} is on the same volume")
        main = s["spec"]["template"]["spec"]["containers"][0]
        rep.check(main.get("command", [])[:1] == ["cdc-producer"], "producer: runs cdc-producer")

    sink_deps = [d for d in by_kind.get("Deployment", []) if
                 d["spec"]["template"]["spec"]["containers"][0].get("command", [])[:1] == ["cdc-sink"]]
    domains_deployed = set()
    for d in sink_deps:
        argv = d["spec"]["template"]["spec"]["containers"][0]["command"]
        domains_deployed.add(argv[argv.index("--domain") + 1])
    rep.check(domains_deployed == set(pipe.domains),
              f"one sink Deployment per domain: {sorted(pipe.domains)}")
    bootstrap = env.get("CDC_BOOTSTRAP")
    sos = by_kind.get("ScaledObject", [])
    rep.check({so["spec"]["scaleTargetRef"]["name"] for so in sos}
              == {d["metadata"]["name"] for d in sink_deps},
              "one KEDA ScaledObject per sink Deployment")
    for so in sos:
        check_keda(rep, so, objs, pipe, bootstrap)

    pods = [(w, w["spec"]["template"].get("metadata", {}).get("labels", {})) for w in workloads]
    for pdb in by_kind.get("PodDisruptionBudget", []):
        sel = pdb["spec"]["selector"]["matchLabels"]
        hits = [w["metadata"]["name"] for w, lab in pods if _selects(sel, lab)]
        rep.check(len(hits) == 1, f"PodDisruptionBudget {pdb['metadata']['name']}: selects {hits}")
    rep.check({p["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/instance")
               for p in by_kind.get("PodDisruptionBudget", [])}
              >= {d["metadata"]["name"] for d in sink_deps},
              "every sink Deployment has a PodDisruptionBudget")
    for svc in by_kind.get("Service", []):
        hits = [w["metadata"]["name"] for w, lab in pods if _selects(svc["spec"]["selector"], lab)]
        rep.check(len(hits) == 1, f"Service {svc['metadata']['name']}: selects {hits}")
    jobs = by_kind.get("Job", [])
    rep.check(any(j["spec"]["template"]["spec"]["containers"][0].get("command", [])[:4]
                  == ["cdc-ctl", "topics", "-c", "/etc/cdc/pipeline.yml"] for j in jobs),
              "a Job runs cdc-ctl topics -c /etc/cdc/pipeline.yml")
    val = [d for d in by_kind.get("Deployment", []) if
           d["spec"]["template"]["spec"]["containers"][0].get("command", [])[:1] == ["cdc-validator"]]
    rep.check(len(val) == 1, "a validator Deployment")

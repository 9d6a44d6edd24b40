#!/usr/bin/env python3
"""A stand-in for a Confluent Schema Registry, for tests (python3 standard library only).

No real registry can be installed in the test environment (they are Java or Python
services outside the Debian archive), so the client in libcdc/cdc_registry.c is tested
against this. It speaks the documented REST API, Avro only:

  POST /subjects/{subject}/versions          register -> {"id": N}; same schema -> same id;
                                             409 when incompatible under the subject's level
  POST /subjects/{subject}                   look up -> {"subject","id","version","schema"}
  GET  /subjects                             ["subject", ...]
  GET  /subjects/{subject}/versions          [1, 2, ...]
  GET  /subjects/{subject}/versions/{v}      v a number or "latest"
  GET  /schemas/ids/{id}                     {"schema": "<the text as first registered>"}
  POST /compatibility/subjects/{subject}/versions/{v|latest}[?verbose=true]
                                             {"is_compatible": B, "messages": [...]}
  GET/PUT /config                            global level {"compatibilityLevel": X} /
                                             {"compatibility": X}
  GET/PUT /config/{subject}                  subject level; GET answers 404 (40408) when the
                                             subject has none unless ?defaultToGlobal=true

Errors are {"error_code": N, "message": "..."} with Confluent's codes: 40401 subject not
found, 40402 version not found, 40403 schema not found, 40408 no subject-level config,
409 incompatible, 42201 invalid schema, 42203 invalid compatibility level, 50001 (faults).

Compatibility levels: NONE, BACKWARD (default), BACKWARD_TRANSITIVE, FORWARD,
FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, by Avro's schema resolution rules: a reader can
read a writer when, for records of the same full name, every reader field is either in
the writer (with a readable type) or has a default; writer fields the reader lacks are
skipped; primitives match or promote (int->long->float->double, string<->bytes); unions
resolve branch by branch; enums need the writer's symbols (or a reader default); arrays,
maps and fixed compare items, values and size.

Test controls (never authenticated, never counted):
  POST /_fault {"status": 503, "count": 2}   the next 2 API requests answer 503 (status 0:
                                             close the connection without an answer)
  GET  /_stats                               {"requests": N, "by_route": {...}}
  POST /_reset_stats

Usage: registry_standin.py [--port N] [--port-file F] [--user U --password P] [--verbose]
Listens on 127.0.0.1 (a free port by default), prints the port on stdout and writes it to
--port-file once it accepts connections. With --user/--password every API request needs
that basic auth (401 otherwise).
"""

import argparse
import base64
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
          "FULL_TRANSITIVE")
PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
PROMOTIONS = {
    "int": ("long", "float", "double"),
    "long": ("float", "double"),
    "float": ("double",),
    "string": ("bytes",),
    "bytes": ("string",),
}
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaError(Exception):
    pass


# ---- Avro schemas: parse into named-type tables, then compare ----

def _fullname(name, namespace):
    if "." in name or not namespace:
        return name
    return namespace + "." + name


def _collect(schema, namespace, names):
    """Validates schema (parsed JSON) and records its named types in names."""
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return
        full = _fullname(schema, namespace)
        if full not in names and schema not in names:
            raise SchemaError("unknown type name %r" % schema)
        return
    if isinstance(schema, list):
        for branch in schema:
            if isinstance(branch, list):
                raise SchemaError("a union cannot contain a union")
            _collect(branch, namespace, names)
        return
    if not isinstance(schema, dict) or "type" not in schema:
        raise SchemaError("a schema is a name, a union or an object with a \"type\"")
    t = schema["type"]
    if t in PRIMITIVES:
        return
    if t in ("record", "error", "enum", "fixed"):
        name = schema.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError("a %s needs a name" % t)
        ns = schema.get("namespace", namespace)
        full = _fullname(name, ns)
        if full in names:
            raise SchemaError("type %s is defined twice" % full)
        names[full] = schema
        inner_ns = full.rsplit(".", 1)[0] if "." in full else None
        if t in ("record", "error"):
            fields = schema.get("fields")
            if not isinstance(fields, list):
                raise SchemaError("record %s has no fields array" % full)
            seen = set()
            for f in fields:
                if not isinstance(f, dict) or not isinstance(f.get("name"), str) or "type" not in f:
                    raise SchemaError("record %s: a field needs a name and a type" % full)
                if f["name"] in seen:
                    raise SchemaError("record %s: field %s twice" % (full, f["name"]))
                seen.add(f["name"])
                _collect(f["type"], inner_ns, names)
        elif t == "enum":
            if not isinstance(schema.get("symbols"), list):
                raise SchemaError("enum %s has no symbols" % full)
        elif not isinstance(schema.get("size"), int):
            raise SchemaError("fixed %s has no size" % full)
        return
    if t == "array":
        _collect(schema.get("items"), namespace, names)
        return
    if t == "map":
        _collect(schema.get("values"), namespace, names)
        return
    if isinstance(t, (dict, list)):  # {"type": {...}} wraps a schema
        _collect(t, namespace, names)
        return
    _collect(t, namespace, names)  # {"type": "SomeName"}


class Schema:
    def __init__(self, text):
        try:
            self.json = json.loads(text)
        except ValueError as e:
            raise SchemaError("not JSON: %s" % e)
        self.names = {}
        _collect(self.json, None, self.names)

    def resolve(self, s, namespace=None):
        """-> (kind, node): kind is a primitive name, 'union', or a complex type."""
        if isinstance(s, list):
            return "union", s
        if isinstance(s, str):
            if s in PRIMITIVES:
                return s, s
            node = self.names.get(s) or self.names.get(_fullname(s, namespace))
            if node is None:  # a short name used inside its namespace
                node = next((v for k, v in self.names.items() if k.rsplit(".", 1)[-1] == s),
                            None)
            if node is None:
                raise SchemaError("unknown type name %r" % s)
            return self.resolve(node)
        t = s["type"]
        if isinstance(t, (dict, list)):
            return self.resolve(t)
        if t in PRIMITIVES:
            return t, s
        if t in self.names or (t not in ("record", "error", "enum", "fixed", "array", "map")):
            return self.resolve(t, namespace)
        return ("record" if t == "error" else t), s


def _name_of(node):
    return _fullname(node["name"], node.get("namespace"))


def can_read(reader, rs, writer, ws, path, out, seen=None):
    """Appends to out why reader (schema rs) cannot read data written with writer (ws)."""
    seen = set() if seen is None else seen
    rk, rn = reader.resolve(rs)
    wk, wn = writer.resolve(ws)
    if wk == "union":
        for i, branch in enumerate(wn):
            can_read(reader, rs, writer, branch, "%s/%d" % (path, i), out, seen)
        return
    if rk == "union":
        closest = None
        for branch in rn:
            trial = []
            can_read(reader, branch, writer, ws, path, trial, seen)
            if not trial:
                return
            if reader.resolve(branch)[0] == wk and closest is None:
                closest = trial  # same kind (e.g. the record of the same name): say why
        if closest:
            out.extend(closest)
        else:
            out.append("TYPE_MISMATCH: at '%s' the writer's type %s matches no branch of the "
                       "reader's union" % (path or "/", wk))
        return
    if rk != wk:
        if rk in PROMOTIONS.get(wk, ()):
            return
        out.append("TYPE_MISMATCH: at '%s' the reader's type %s cannot read the writer's %s"
                   % (path or "/", rk, wk))
        return
    if rk in PRIMITIVES:
        return
    if rk == "record":
        rname, wname = _name_of(rn), _name_of(wn)
        aliases = set(rn.get("aliases", []))
        if rname != wname and wname not in aliases and wname.rsplit(".", 1)[-1] not in aliases:
            out.append("NAME_MISMATCH: at '%s' the reader's record %s is not the writer's %s"
                       % (path or "/", rname, wname))
            return
        if (rname, wname) in seen:  # recursive types: already being compared
            return
        seen = seen | {(rname, wname)}
        wfields = {f["name"]: f for f in wn["fields"]}
        for i, f in enumerate(rn["fields"]):
            wf = wfields.get(f["name"])
            if wf is None:
                for alias in f.get("aliases", []):
                    wf = wfields.get(alias)
                    if wf is not None:
                        break
            fpath = "%s/fields/%d" % (path, i)
            if wf is None:
                if "default" not in f:
                    out.append("READER_FIELD_MISSING_DEFAULT_VALUE: the field '%s' at '%s' in "
                               "the new schema has no default value and is missing in the old "
                               "schema" % (f["name"], fpath))
                continue
            can_read(reader, f["type"], writer, wf["type"], fpath, out, seen)
        return
    if rk == "enum":
        missing = [s for s in wn["symbols"] if s not in rn["symbols"]]
        if missing and "default" not in rn:
            out.append("MISSING_ENUM_SYMBOLS: at '%s' the reader lacks %s" % (path or "/", missing))
        return
    if rk == "fixed":
        if rn.get("size") != wn.get("size") or _name_of(rn) != _name_of(wn):
            out.append("FIXED_SIZE_MISMATCH: at '%s'" % (path or "/"))
        return
    if rk == "array":
        can_read(reader, rn["items"], writer, wn["items"], path + "/items", out, seen)
        return
    if rk == "map":
        can_read(reader, rn["values"], writer, wn["values"], path + "/values", out, seen)
        return


def incompatibilities(level, new, olds):
    """Messages explaining why schema new breaks level against olds (oldest first)."""
    if level == "NONE" or not olds:
        return []
    targets = olds if level.endswith("_TRANSITIVE") else olds[-1:]
    out = []
    for old in targets:
        if level.startswith("BACKWARD") or level.startswith("FULL"):
            can_read(new, new.json, old, old.json, "", out)
        if level.startswith("FORWARD") or level.startswith("FULL"):
            can_read(old, old.json, new, new.json, "", out)
    if out:
        out.append("{oldSchemaVersion: %d}" % len(olds))
        out.append("{compatibility: '%s'}" % level)
    return out


# ---- state ----

class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.texts = {}        # id -> text as first registered
        self.parsed = {}       # id -> Schema
        self.subjects = {}     # subject -> [id, ...] (version = index + 1)
        self.global_level = "BACKWARD"
        self.levels = {}       # subject -> level
        self.next_id = 1
        self.faults = []       # [status, remaining]
        self.requests = 0
        self.by_route = {}

    def same_schema_id(self, schema):
        for sid, parsed in self.parsed.items():
            if parsed.json == schema.json:
                return sid
        return None

    def level_of(self, subject):
        return self.levels.get(subject, self.global_level)


STATE = Registry()


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _subject_versions(subject):
    versions = STATE.subjects.get(subject)
    if not versions:
        raise ApiError(404, 40401, "Subject '%s' not found." % subject)
    return versions


def _version_id(subject, v):
    versions = _subject_versions(subject)
    if v == "latest" or v == "-1":
        return len(versions), versions[-1]
    if not re.fullmatch(r"[0-9]+", v) or not 1 <= int(v) <= len(versions):
        raise ApiError(404, 40402, "Version %s not found." % v)
    return int(v), versions[int(v) - 1]


def _schema_from_body(body):
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        raise ApiError(422, 42201, "Invalid schema: the request body is not JSON")
    if not isinstance(doc, dict) or not isinstance(doc.get("schema"), str):
        raise ApiError(422, 42201, "Invalid schema: the body has no string \"schema\"")
    if doc.get("schemaType", "AVRO") != "AVRO":
        raise ApiError(422, 42201, "Invalid schema: only AVRO is supported by this stand-in")
    try:
        return doc["schema"], Schema(doc["schema"])
    except SchemaError as e:
        raise ApiError(422, 42201, "Invalid schema %s: %s" % (doc["schema"][:80], e))


def api(method, parts, query, body):
    """-> (status, JSON document). parts: the decoded path segments."""
    s = STATE
    if parts == ["subjects"] and method == "GET":
        return 200, sorted(s.subjects)
    if len(parts) == 2 and parts[0] == "subjects" and method == "POST":
        subject = parts[1]
        text, schema = _schema_from_body(body)
        versions = _subject_versions(subject)
        for i, sid in enumerate(versions):
            if s.parsed[sid].json == schema.json:
                return 200, {"subject": subject, "id": sid, "version": i + 1,
                             "schema": s.texts[sid]}
        raise ApiError(404, 40403, "Schema not found")
    if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
        subject = parts[1]
        if method == "GET":
            return 200, list(range(1, len(_subject_versions(subject)) + 1))
        if method == "POST":
            text, schema = _schema_from_body(body)
            versions = s.subjects.get(subject, [])
            for sid in versions:
                if s.parsed[sid].json == schema.json:
                    return 200, {"id": sid}
            msgs = incompatibilities(s.level_of(subject), schema,
                                     [s.parsed[i] for i in versions])
            if msgs:
                raise ApiError(409, 409,
                               "Schema being registered is incompatible with an earlier schema "
                               "for subject \"%s\", details: [%s]" % (subject, ", ".join(msgs)))
            sid = s.same_schema_id(schema)
            if sid is None:
                sid = s.next_id
                s.next_id += 1
                s.texts[sid] = text
                s.parsed[sid] = schema
            s.subjects.setdefault(subject, []).append(sid)
            return 200, {"id": sid}
    if len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions" and method == "GET":
        version, sid = _version_id(parts[1], parts[3])
        return 200, {"subject": parts[1], "version": version, "id": sid, "schema": s.texts[sid]}
    if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and method == "GET":
        sid = int(parts[2]) if re.fullmatch(r"[0-9]+", parts[2]) else -1
        if sid not in s.texts:
            raise ApiError(404, 40403, "Schema %s not found" % parts[2])
        return 200, {"schema": s.texts[sid]}
    if (len(parts) == 5 and parts[0] == "compatibility" and parts[1] == "subjects"
            and parts[3] == "versions" and method == "POST"):
        subject = parts[2]
        text, schema = _schema_from_body(body)
        _, sid = _version_id(subject, parts[4])
        level = s.level_of(subject)
        versions = s.subjects[subject]
        olds = ([s.parsed[i] for i in versions] if level.endswith("_TRANSITIVE")
                else [s.parsed[sid]])
        msgs = incompatibilities(level, schema, olds)
        doc = {"is_compatible": not msgs}
        if query.get("verbose", [""])[0] == "true":
            doc["messages"] = msgs
        return 200, doc
    if parts and parts[0] == "config" and len(parts) <= 2:
        subject = parts[1] if len(parts) == 2 else None
        if method == "GET":
            if subject is None:
                return 200, {"compatibilityLevel": s.global_level}
            if subject in s.levels:
                return 200, {"compatibilityLevel": s.levels[subject]}
            if query.get("defaultToGlobal", [""])[0] == "true":
                return 200, {"compatibilityLevel": s.global_level}
            raise ApiError(404, 40408,
                           "Subject '%s' does not have subject-level compatibility configured"
                           % subject)
        if method == "PUT":
            try:
                level = json.loads(body or b"null").get("compatibility")
            except (ValueError, AttributeError):
                level = None
            if level not in LEVELS:
                raise ApiError(422, 42203, "Invalid compatibility level. Valid values are none, "
                               "backward, forward, full, backward_transitive, "
                               "forward_transitive, and full_transitive")
            if subject is None:
                s.global_level = level
            else:
                s.levels[subject] = level
            return 200, {"compatibility": level}
    raise ApiError(404, 404, "HTTP 404 Not Found")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client reuses its connection
    server_version = "registry-standin/1"
    auth = None  # "Basic <b64>" when required
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("registry-standin: " + (fmt % args) + "\n")

    def _send(self, status, doc, extra=None):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw_parts = [p for p in url.path.split("/") if p]
        parts = [unquote(p) for p in raw_parts]
        if parts and parts[0].startswith("_"):
            return self._control(method, parts[0], body)
        with STATE.lock:
            STATE.requests += 1
            route = method + " /" + "/".join(raw_parts[:1])
            STATE.by_route[route] = STATE.by_route.get(route, 0) + 1
            fault = None
            if STATE.faults and STATE.faults[0][1] > 0:
                fault = STATE.faults[0][0]
                STATE.faults[0][1] -= 1
                if STATE.faults[0][1] == 0:
                    STATE.faults.pop(0)
        if fault is not None:
            if fault == 0:  # a dropped connection: no answer at all
                self.close_connection = True
                self.connection.shutdown(2)
                return
            return self._send(fault, {"error_code": fault * 100 + 1,
                                      "message": "injected fault %d" % fault})
        if self.auth is not None and self.headers.get("Authorization") != self.auth:
            return self._send(401, {"error_code": 401, "message": "Unauthorized"},
                              {"WWW-Authenticate": 'Basic realm="registry-standin"'})
        try:
            with STATE.lock:
                status, doc = api(method, parts, query, body)
        except ApiError as e:
            status, doc = e.status, {"error_code": e.code, "message": e.message}
        self._send(status, doc)

    def _control(self, method, name, body):
        with STATE.lock:
            if name == "_fault" and method == "POST":
                doc = json.loads(body or b"{}")
                STATE.faults.append([int(doc.get("status", 503)), int(doc.get("count", 1))])
                return self._send(200, {"ok": True})
            if name == "_stats" and method == "GET":
                return self._send(200, {"requests": STATE.requests, "by_route": STATE.by_route})
            if name == "_reset_stats" and method == "POST":
                STATE.requests = 0
                STATE.by_route = {}
                return self._send(200, {"ok": True})
        self._send(404, {"error_code": 404, "message": "unknown control " + name})

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--user", help="require basic auth with this user")
    ap.add_argument("--password", help="... and this password")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()
    if (args.user is None) != (args.password is None):
        ap.error("--user and --password go together")
    if args.user is not None:
        token = base64.b64encode(("%s:%s" % (args.user, args.password)).encode()).decode()
        Handler.auth = "Basic " + token
    Handler.verbose = args.verbose
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    print(port, flush=True)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

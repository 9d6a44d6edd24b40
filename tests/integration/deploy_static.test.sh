#!/usr/bin/env bash
# labels: integration quick
# timeout: 180
#
# Static validation of the deployment files: no Docker engine and no cluster run here, so
# everything that can be checked without them is checked with tools from Debian packages
# (scripts/deps-deploy.sh installs them):
#   - every YAML file parses and passes yamllint;
#   - docker-compose.yml: Debian's docker-compose loads it (`config`: interpolation, merge
#     keys, profiles), it matches the compose specification's JSON schema, a missing
#     POSTGRES_PASSWORD is refused, and its structure is what the deployment relies on;
#   - deploy/k8s: every object against the Kubernetes API models (python3-kubernetes),
#     the KEDA ScaledObjects against the sinks' consumer groups and partition counts;
#   - deploy/prometheus: promtool check rules / test rules (alerts.test.yml) / check config;
#   - deploy/Dockerfile: RUN steps through shellcheck, stages, user, and the runtime
#     packages against the libraries the installed binaries link (readelf + dpkg -S);
#   - deploy/docker/cdc-healthcheck against a real HTTP server on loopback;
#   - deploy/systemd: systemd-analyze verify (must print nothing) and security (exposure);
#   - every cdc-* command line in those files against the binaries' --help, and the
#     compose pipeline file through the real config loader.
set -euo pipefail

: "${CDC_SOURCE_DIR:?}" "${CDC_BUILD_DIR:?}"
root=$CDC_SOURCE_DIR
cd "$root"

for tool in docker-compose promtool shellcheck yamllint systemd-analyze readelf /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool missing (run scripts/deps-deploy.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d)
http_pid=
cleanup() {
  if [ -n "$http_pid" ]; then kill "$http_pid" 2>/dev/null || true; wait "$http_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
passes=0
pass() { passes=$((passes + 1)); echo "ok    $*"; }
fail() { failures=$((failures + 1)); echo "FAIL  $*"; }

# The binaries as the image gets them: cmake --install of this build.
cmake --install "$CDC_BUILD_DIR" --prefix "$tmp/prefix" >/dev/null
bin=$tmp/prefix/bin

# ---- YAML -------------------------------------------------------------------------------
if out=$(yamllint -f parsable -c deploy/validate/yamllint.yml docker-compose.yml deploy/ 2>&1); then
  pass "yamllint: docker-compose.yml and deploy/"
else
  fail "yamllint:"$'\n'"$out"
fi

# ---- docker-compose ---------------------------------------------------------------------
if docker-compose --env-file .env.example -f docker-compose.yml --profile workload \
     --profile monitoring config >"$tmp/compose.yml" 2>"$tmp/compose.err"; then
  pass "docker-compose config loads docker-compose.yml with .env.example (all profiles)"
else
  fail "docker-compose config: $(cat "$tmp/compose.err")"
fi
: >"$tmp/empty.env"
if env -u POSTGRES_PASSWORD docker-compose --env-file "$tmp/empty.env" -f docker-compose.yml config \
     >/dev/null 2>"$tmp/nopw.err"; then
  fail "docker-compose config accepted a missing POSTGRES_PASSWORD"
elif grep -q "set POSTGRES_PASSWORD" "$tmp/nopw.err"; then
  pass "docker-compose refuses to start without POSTGRES_PASSWORD, naming it"
else
  fail "missing POSTGRES_PASSWORD: unexpected message: $(cat "$tmp/nopw.err")"
fi

# ---- structure, schemas, Kubernetes, Dockerfile, command lines (python) -----------------
if /usr/bin/python3 deploy/validate/deploy_check.py --root "$root" \
     --compose-resolved "$tmp/compose.yml" --bin-dir "$bin" >"$tmp/check.out" 2>&1; then
  pass "deploy_check.py: $(tail -1 "$tmp/check.out")"
else
  grep -v '^ok' "$tmp/check.out" || true
  fail "deploy_check.py: $(tail -1 "$tmp/check.out")"
fi

# ---- the real config loader accepts the compose pipeline ---------------------------------
# cdc-sink loads and validates the whole file before it looks up --domain, so an unknown
# domain is the cheapest way to run the loader without Kafka or PostgreSQL.
set +e
msg=$("$bin/cdc-sink" -c deploy/compose/pipeline.yml --domain no-such-domain 2>&1)
rc=$?
set -e
if [ "$rc" = 2 ] && [[ "$msg" == *"is not in the config"*"(domains: crm analytics f500)"* ]]; then
  pass "the config loader accepts deploy/compose/pipeline.yml (domains crm analytics f500)"
else
  fail "config loader on deploy/compose/pipeline.yml: exit $rc: $msg"
fi

# ---- Prometheus -------------------------------------------------------------------------
if out=$(promtool check rules deploy/prometheus/alerts.yml 2>&1); then
  pass "promtool check rules: $(echo "$out" | grep -o '[0-9]* rules found')"
else
  fail "promtool check rules:"$'\n'"$out"
fi
if out=$(cd deploy/prometheus && promtool test rules alerts.test.yml 2>&1); then
  pass "promtool test rules: every alert fires on its sample series and stays quiet otherwise"
else
  fail "promtool test rules:"$'\n'"$out"
fi
mkdir -p "$tmp/prom"
sed 's#/etc/prometheus/alerts.yml#alerts.yml#' deploy/prometheus/prometheus.yml >"$tmp/prom/prometheus.yml"
cp deploy/prometheus/alerts.yml "$tmp/prom/"
if out=$(promtool check config "$tmp/prom/prometheus.yml" 2>&1); then
  pass "promtool check config: deploy/prometheus/prometheus.yml"
else
  fail "promtool check config:"$'\n'"$out"
fi

# ---- shell ------------------------------------------------------------------------------
if out=$(shellcheck deploy/docker/cdc-healthcheck scripts/deps-deploy.sh \
           tests/integration/deploy_static.test.sh 2>&1); then
  pass "shellcheck: cdc-healthcheck, deps-deploy.sh, this test"
else
  fail "shellcheck:"$'\n'"$out"
fi

# ---- the container health check against a real server ------------------------------------
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/www"
printf '# TYPE up gauge\ncdc_sink_lag_seconds{domain="crm",partition="0"} 0\n' >"$tmp/www/metrics"
(cd "$tmp/www" && exec timeout 60 /usr/bin/python3 -m http.server "$port" --bind 127.0.0.1) \
  >/dev/null 2>&1 &
http_pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
hc() { CDC_METRICS_PORT=$1 deploy/docker/cdc-healthcheck >/dev/null 2>&1; echo $?; }
expect() { # expect WANT GOT TEXT
  if [ "$1" = "$2" ]; then pass "$3"; else fail "$3 (exit $2, wanted $1)"; fi
}
expect 0 "$(hc "$port")" "cdc-healthcheck: 200 from /metrics is healthy"
rm "$tmp/www/metrics"
expect 1 "$(hc "$port")" "cdc-healthcheck: 404 from /metrics is unhealthy"
kill "$http_pid"; wait "$http_pid" 2>/dev/null || true; http_pid=
expect 1 "$(hc "$port")" "cdc-healthcheck: nothing listening is unhealthy"
expect 2 "$(hc x1)" "cdc-healthcheck: a bad port is a usage error"

# ---- systemd ----------------------------------------------------------------------------
mkdir -p "$tmp/units"
for u in deploy/systemd/*.service; do
  sed "s#/usr/local/bin/#$bin/#g" "$u" >"$tmp/units/$(basename "$u")"
done
cp "$tmp/units/cdc-sink@.service" "$tmp/units/cdc-sink@crm.service"
for u in cdc-producer.service cdc-sink@crm.service cdc-validator.service; do
  # verify exits 0 on unknown keys and only warns: any output is a failure.
  out=$(cd "$tmp/units" && systemd-analyze verify "./$u" 2>&1) || true
  if [ -z "$out" ]; then pass "systemd-analyze verify $u"; else fail "systemd-analyze verify $u:"$'\n'"$out"; fi
  if out=$(cd "$tmp/units" && systemd-analyze security --offline=true --threshold=25 "./$u" 2>&1); then
    pass "systemd-analyze security $u: $(echo "$out" | grep -o 'exposure level[^:]*: [0-9.]*' | tail -1)"
  else
    fail "systemd-analyze security $u above 2.5:"$'\n'"$(echo "$out" | tail -3)"
  fi
done
printf '[Service]\nExecStart=%s/cdc-sink --help\nRestrat=always\n' "$bin" >"$tmp/units/bad.service"
out=$(cd "$tmp/units" && systemd-analyze verify ./bad.service 2>&1) || true
if [[ "$out" == *"Unknown key 'Restrat'"* ]]; then
  pass "systemd-analyze verify reports a misspelt key"
else
  fail "systemd-analyze verify did not report a misspelt key: $out"
fi

echo "deploy_static: $passes passed, $failures failed"
[ "$failures" = 0 ]

#!/usr/bin/env bash
# Idempotent machine setup for agentledger: Debian packages (Java 17, Maven, PostgreSQL, Node.js,
# Python 3.11), then the project's virtualenv and its Python packages.
# Fast when everything is already there: it only checks.
# Kafka and Apicurio jars are fetched by `agentledger up` through Maven, cached per machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PY:-python3.11}"
VENV="${VENV:-.venv}"

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1 || true)
[ "${java_major:-0}" -ge 17 ] 2>/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v runuser >/dev/null || missing+=(util-linux)
command -v "$PY" >/dev/null || missing+=(python3.11 python3.11-venv)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx-light)  # the registry's gate
command -v gcc >/dev/null || missing+=(gcc)  # builds the C Avro module (infra/serde/_avro_native.c)
command -v node >/dev/null || missing+=(nodejs)  # runs the Node.js agent example and its test
command -v prometheus >/dev/null || missing+=(prometheus)  # the metrics test scrapes `agentledger run` with a real server
if command -v "$PY" >/dev/null && ! "$PY" -c 'import os, sysconfig, sys
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  missing+=(python3.11-dev)  # Python.h, for the same build
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install: apt packages: ${missing[*]}"
  if [[ " ${missing[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    # The project runs its own cluster; keep the package from creating and starting another.
    sudo_if_needed mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | sudo_if_needed tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  # Packages with a system service (nginx) would start it on install, on port 80 for all
  # interfaces; the project runs its own instance, so service starts are refused meanwhile.
  refuse_starts=/usr/sbin/policy-rc.d
  if [ ! -e "$refuse_starts" ]; then
    printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee "$refuse_starts" >/dev/null
    sudo_if_needed chmod 755 "$refuse_starts"
    trap 'sudo_if_needed rm -f "$refuse_starts"' EXIT
  fi
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold "${missing[@]}"
fi

stamp="$VENV/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "install: Python packages into $VENV"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip setuptools wheel
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
# Jaeger, the real OTLP receiver the trace test sends to: built once per machine from its Go
# module (Debian packages no OpenTelemetry collector), a few minutes the first time.
JAEGER_VERSION=v1.75.0
JAEGER="${AGENTLEDGER_JAEGER:-$HOME/.cache/agentledger/jaeger-$JAEGER_VERSION}"
if [ ! -x "$JAEGER" ]; then
  command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go
  echo "install: building Jaeger $JAEGER_VERSION (once per machine)"
  build=$(mktemp -d)
  mkdir -p "$(dirname "$JAEGER")"
  (cd "$build" && go mod init local/jaeger-build >/dev/null 2>&1 \
    && go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" \
    && go build -o "$JAEGER.new" github.com/jaegertracing/jaeger/cmd/jaeger)
  mv "$JAEGER.new" "$JAEGER"
  rm -rf "$build"
fi
# The C modules (Avro, policy input): each rebuilt only when its source changed (its sha256 is compiled in).
"$VENV/bin/python" -m infra.native_build

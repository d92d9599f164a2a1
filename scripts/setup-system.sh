#!/usr/bin/env bash
# Installs the system packages the tests use, from Debian, when missing:
# Node.js and npm (the official TypeScript MCP servers and the MCP
# Inspector run under node), redis-server (the shared rate limiter's
# tests start their own server on a Unix socket), PostgreSQL (the watch
# store's tests start their own server) and Chromium (the dashboard's tests). Needs root to install;
# without root it only says what is missing.
set -euo pipefail

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# Chromium: the watch dashboard's browser tests drive Debian's headless
# Chromium.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# PostgreSQL: the watch store's tests start a private server (initdb + pg_ctl
# on a Unix socket, no TCP); Debian keeps the binaries off PATH.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root" >&2
  exit 0
fi
echo "setup-system: apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"

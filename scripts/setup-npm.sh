#!/usr/bin/env bash
# setup-npm.sh installs the pinned npm packages under testdata/npm (the
# TypeScript reference MCP server used by internal/mcptest) from the committed
# package-lock.json. Idempotent: it runs `npm ci` only when node_modules is
# missing or was installed from a different lockfile.
set -euo pipefail

here="${BASH_SOURCE[0]%/*}"
[ "$here" != "${BASH_SOURCE[0]}" ] || here=.
root="$(cd "$here/.." && pwd)"
dir="$root/testdata/npm"
lock="$dir/package-lock.json"
stamp="$dir/node_modules/.mcpwarden-lock.sha256"

die() { echo "setup-npm: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found in PATH; install Node.js 20 or newer (see testdata/npm/package.json)"
command -v npm >/dev/null 2>&1 || die "npm not found in PATH; install npm (it ships with Node.js)"
[ -f "$lock" ] || die "missing $lock"

major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || die "node $(node --version) is too old; need Node.js 20 or newer"

if command -v sha256sum >/dev/null 2>&1; then
	want="$(sha256sum "$lock" | cut -d' ' -f1)"
else
	want="$(shasum -a 256 "$lock" | cut -d' ' -f1)"
fi

if [ -d "$dir/node_modules" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	echo "setup-npm: $dir/node_modules is up to date"
	exit 0
fi

echo "setup-npm: npm ci in $dir (node $(node --version), npm $(npm --version))"
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts) || die "npm ci failed in $dir"
echo "$want" >"$stamp"
echo "setup-npm: done"

#!/usr/bin/env bash
# setup-npm.sh installs the pinned npm packages of every testdata/npm*/
# directory from its committed package-lock.json: testdata/npm (the TypeScript
# reference MCP server) and testdata/npm-inspector-* (the MCP Inspector at a
# vulnerable and at a fixed version), all used by internal/mcptest.
# Idempotent: it runs `npm ci` in a directory only when its node_modules is
# missing or was installed from a different lockfile. Install scripts are
# never run (none of the pinned packages needs one).
set -euo pipefail

here="${BASH_SOURCE[0]%/*}"
[ "$here" != "${BASH_SOURCE[0]}" ] || here=.
root="$(cd "$here/.." && pwd)"

die() { echo "setup-npm: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found in PATH; install Node.js 20 or newer (see testdata/npm/package.json)"
command -v npm >/dev/null 2>&1 || die "npm not found in PATH; install npm (it ships with Node.js)"

major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || die "node $(node --version) is too old; need Node.js 20 or newer"

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}

# install DIR runs `npm ci` in DIR unless its node_modules matches its lockfile.
install() {
	local dir="$1"
	local lock="$dir/package-lock.json"
	local stamp="$dir/node_modules/.mcpwarden-lock.sha256"
	[ -f "$dir/package.json" ] || die "missing $dir/package.json"
	[ -f "$lock" ] || die "missing $lock"
	local want
	want="$(sha256 "$lock")"
	if [ -d "$dir/node_modules" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		echo "setup-npm: $dir/node_modules is up to date"
		return 0
	fi
	echo "setup-npm: npm ci in $dir (node $(node --version), npm $(npm --version))"
	(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts) || die "npm ci failed in $dir"
	echo "$want" >"$stamp"
}

[ -d "$root/testdata/npm" ] || die "missing $root/testdata/npm"
found=0
for dir in "$root"/testdata/npm*/; do
	dir="${dir%/}"
	[ -f "$dir/package.json" ] || continue
	install "$dir"
	found=$((found + 1))
done
[ "$found" -gt 0 ] || die "no testdata/npm*/package.json found under $root"
echo "setup-npm: done ($found directories)"

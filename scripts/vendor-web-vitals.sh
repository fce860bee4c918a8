#!/usr/bin/env bash
# Fetch Google's web-vitals from the npm registry into the package (/rum.js ships inside it).
# Usage: scripts/vendor-web-vitals.sh [VERSION]
set -euo pipefail
version="${1:-6.2.3}"
cd "$(dirname "$0")/.."
target=src/watchkeeper/web/static/vendor/web-vitals
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "web-vitals@$version" >/dev/null && tar xzf web-vitals-*.tgz)
mkdir -p "$target"
files=(web-vitals.attribution.iife.js LICENSE)
cp "$work/package/dist/web-vitals.attribution.iife.js" "$work/package/LICENSE" "$target/"
(cd "$target" && sha256sum "${files[@]}" > SHA256SUMS)
sed -i "1s/.*/# web-vitals $version (Apache-2.0, © Google LLC)/" "$target/README.md"
echo "web-vitals $version in $target"

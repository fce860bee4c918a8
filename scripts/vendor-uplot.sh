#!/usr/bin/env bash
# Fetch uPlot from the npm registry into the package (the dashboard's charts ship inside it).
# Usage: scripts/vendor-uplot.sh [VERSION]
set -euo pipefail
version="${1:-1.6.32}"
cd "$(dirname "$0")/.."
target=src/watchkeeper/web/static/vendor/uplot
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$version" >/dev/null && tar xzf uplot-*.tgz)
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$work/package/LICENSE" "$target/"
(cd "$target" && sha256sum uPlot.iife.min.js uPlot.min.css > SHA256SUMS)
sed -i "1s/.*/# uPlot $version (MIT, © Leon Sorokin)/" "$target/README.md"
echo "uPlot $version in $target"

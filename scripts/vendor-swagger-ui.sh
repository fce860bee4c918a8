#!/usr/bin/env bash
# Fetch Swagger UI from the npm registry into the package (the /api/docs page ships inside it).
# Usage: scripts/vendor-swagger-ui.sh [VERSION]
set -euo pipefail
version="${1:-5.35.0}"
cd "$(dirname "$0")/.."
target=src/watchkeeper/web/static/vendor/swagger-ui
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
mkdir -p "$target"
files=(swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE)
for file in "${files[@]}"; do cp "$work/package/$file" "$target/"; done
(cd "$target" && sha256sum "${files[@]}" > SHA256SUMS)
sed -i "1s/.*/# Swagger UI $version (Apache-2.0, © SmartBear Software)/" "$target/README.md"
echo "Swagger UI $version in $target"

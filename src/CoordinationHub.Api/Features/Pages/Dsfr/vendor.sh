#!/usr/bin/env bash
# Copies the parts of the State's design system (@gouvfr/dsfr) the pages use into this folder, from the npm
# tarball (`npm pack` runs no install script). They are embedded in the app (CoordinationHub.Api.csproj) and
# served under /dsfr/<version>/, so a published app or image needs neither node nor a CDN.
#   src/CoordinationHub.Api/Features/Pages/Dsfr/vendor.sh
set -euo pipefail
VERSION=1.15.3
HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "@gouvfr/dsfr@$VERSION" >/dev/null && tar xzf gouvfr-dsfr-$VERSION.tgz)
DIST="$TMP/package/dist"
rm -rf "$HERE/dist" && mkdir -p "$HERE/dist"
copy() { mkdir -p "$HERE/dist/$(dirname "$1")" && cp "$DIST/$1" "$HERE/dist/$1"; }
copy core/core.min.css
for c in skiplink logo header footer link button form input search breadcrumb table callout notice badge; do
    copy component/$c/$c.min.css
done
for f in Regular Medium Bold Light; do copy fonts/Marianne-$f.woff2; done
copy icons/system/external-link-line.svg
copy icons/system/search-line.svg
copy icons/arrows/arrow-right-s-line.svg
cp "$TMP/package/LICENSE.md" "$HERE/dist/LICENSE.md"
echo "$VERSION" > "$HERE/dist/VERSION"
echo "vendored @gouvfr/dsfr $VERSION: $(find "$HERE/dist" -type f | wc -l) files, $(du -sh "$HERE/dist" | cut -f1)"

#!/usr/bin/env bash
# Regenerates the Kiota client from the committed contract, and records which contract it was
# made from (ClientTests fails when openapi/coordinationhub.v1.json has changed since).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/../.."
dotnet tool restore >/dev/null
dotnet tool run kiota generate -l CSharp -d openapi/coordinationhub.v1.json -o tests/CoordinationHub.Client/Generated \
  -n CoordinationHub.Client -c CoordinationHubClient --exclude-backward-compatible --clean-output --log-level Warning
sha256sum openapi/coordinationhub.v1.json | cut -d' ' -f1 > tests/CoordinationHub.Client/contract.sha256
echo "Client regenerated from openapi/coordinationhub.v1.json ($(cat tests/CoordinationHub.Client/contract.sha256))."

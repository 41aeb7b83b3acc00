#!/usr/bin/env bash
# Fetches the published API descriptions the test fakes validate against and
# that no file in git carries (see /work/shared/corpus/specs/README.md):
# GitHub's official OpenAPI description from the npm package @octokit/openapi.
# Only `generated/api.github.com.json` is kept, in a cache folder outside git;
# a second run finds it there, checks its sha256 and downloads nothing.
# Called by scripts/test-services.sh; tests read the same path (see
# tests/support/contract/mod.rs), overridable with CHARTPILOT_SPEC_CACHE.
set -euo pipefail

# Pinned: a new release changes schemas, and a fake that validates against a
# moving target fails for reasons no commit here made.
OCTOKIT_OPENAPI_VERSION=23.0.2
TARBALL_SHA256=71a18407dd5e8464f4e0525daf03deabbe65abd9287d6adc7b5d98f516cd0d0c
GITHUB_JSON_SHA256=829b4bebb19a53133289f7b0bc819f4f1118115821db2ca9f25e9ee995a7da2a
GITHUB_JSON_BYTES=13001822

CACHE="${CHARTPILOT_SPEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chartpilot/specs}"
DEST="$CACHE/octokit-openapi-${OCTOKIT_OPENAPI_VERSION}/api.github.com.json"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$DEST" ] && [ "$(sha_of "$DEST")" = "$GITHUB_JSON_SHA256" ]; then
  echo "fetch-specs: GitHub OpenAPI ${OCTOKIT_OPENAPI_VERSION} present in ${DEST%/*}" >&2
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tgz="$work/openapi.tgz"

if ! command -v npm >/dev/null 2>&1 && ! command -v python3 >/dev/null 2>&1; then
  echo "fetch-specs: installing npm from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends npm >/dev/null; fi
fi

if command -v npm >/dev/null 2>&1; then
  echo "fetch-specs: npm pack @octokit/openapi@${OCTOKIT_OPENAPI_VERSION}" >&2
  (cd "$work" && npm pack --silent "@octokit/openapi@${OCTOKIT_OPENAPI_VERSION}" >/dev/null)
  mv "$work/octokit-openapi-${OCTOKIT_OPENAPI_VERSION}.tgz" "$tgz"
else
  # The URL npm itself would fetch; its registry setting is honoured.
  registry="${npm_config_registry:-https://registry.npmjs.org}"
  url="${registry%/}/@octokit/openapi/-/openapi-${OCTOKIT_OPENAPI_VERSION}.tgz"
  echo "fetch-specs: no npm; fetching $url with python3" >&2
  python3 - "$url" "$tgz" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as r, open(sys.argv[2], "wb") as f:
    while chunk := r.read(1 << 20):
        f.write(chunk)
PY
fi

if [ "$(sha_of "$tgz")" != "$TARBALL_SHA256" ]; then
  echo "fetch-specs: @octokit/openapi ${OCTOKIT_OPENAPI_VERSION} tarball has sha256 $(sha_of "$tgz"), want ${TARBALL_SHA256}" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work" package/generated/api.github.com.json
got="$work/package/generated/api.github.com.json"
if [ "$(stat -c %s "$got")" != "$GITHUB_JSON_BYTES" ] || [ "$(sha_of "$got")" != "$GITHUB_JSON_SHA256" ]; then
  echo "fetch-specs: api.github.com.json does not match the pinned size and sha256" >&2
  exit 1
fi
mkdir -p "${DEST%/*}"
# Rename into place so a test never reads a half-written file.
mv "$got" "$DEST.tmp" && mv "$DEST.tmp" "$DEST"
echo "fetch-specs: GitHub OpenAPI ${OCTOKIT_OPENAPI_VERSION} stored in ${DEST%/*}" >&2

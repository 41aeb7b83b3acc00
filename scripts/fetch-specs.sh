#!/usr/bin/env bash
# Fetches the published API descriptions the test fakes validate against and
# that no file in git carries (see /work/shared/corpus/specs/README.md):
# - GitHub's official OpenAPI description, npm @octokit/openapi
#   (`generated/api.github.com.json`);
# - GitHub's GraphQL schema, npm @octokit/graphql-schema (`schema.graphql`).
# Only those files are kept, in a cache folder outside git; a second run
# finds them there, checks their sha256 and downloads nothing.
# Called by scripts/test-services.sh; tests read the same paths (see
# tests/support/contract/mod.rs), overridable with CHARTPILOT_SPEC_CACHE.
set -euo pipefail

# Pinned: a new release changes schemas, and a fake that validates against a
# moving target fails for reasons no commit here made.
OCTOKIT_OPENAPI_VERSION=23.0.2
OPENAPI_TARBALL_SHA256=71a18407dd5e8464f4e0525daf03deabbe65abd9287d6adc7b5d98f516cd0d0c
OPENAPI_JSON_SHA256=829b4bebb19a53133289f7b0bc819f4f1118115821db2ca9f25e9ee995a7da2a
OCTOKIT_GRAPHQL_SCHEMA_VERSION=15.26.1
GRAPHQL_TARBALL_SHA256=053e74249dafce2118fd9b7ae499b067d57c5f910c57745699ac45108bc68d1e
GRAPHQL_SCHEMA_SHA256=3c62d0526d133cee53221c89de9b455ade24db78b9e7ad56d642c4c15bce2654

CACHE="${CHARTPILOT_SPEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chartpilot/specs}"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch PACKAGE VERSION TARBALL_SHA256 MEMBER MEMBER_SHA256 DEST WHAT
fetch() {
  local package=$1 version=$2 tarball_sha=$3 member=$4 member_sha=$5 dest=$6 what=$7
  if [ -f "$dest" ] && [ "$(sha_of "$dest")" = "$member_sha" ]; then
    echo "fetch-specs: $what present in ${dest%/*}" >&2
    return 0
  fi
  local work
  work="$(mktemp -d)"
  local tgz="$work/package.tgz"
  if ! command -v npm >/dev/null 2>&1 && ! command -v python3 >/dev/null 2>&1; then
    echo "fetch-specs: installing npm from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends npm >/dev/null; fi
  fi
  local base=${package##*/}
  if command -v npm >/dev/null 2>&1; then
    echo "fetch-specs: npm pack ${package}@${version}" >&2
    (cd "$work" && npm pack --silent "${package}@${version}" >/dev/null)
    mv "$work/octokit-${base}-${version}.tgz" "$tgz"
  else
    # The URL npm itself would fetch; its registry setting is honoured.
    local registry="${npm_config_registry:-https://registry.npmjs.org}"
    local url="${registry%/}/${package}/-/${base}-${version}.tgz"
    echo "fetch-specs: no npm; fetching $url with python3" >&2
    python3 - "$url" "$tgz" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as r, open(sys.argv[2], "wb") as f:
    while chunk := r.read(1 << 20):
        f.write(chunk)
PY
  fi
  if [ "$(sha_of "$tgz")" != "$tarball_sha" ]; then
    echo "fetch-specs: ${package} ${version} tarball has sha256 $(sha_of "$tgz"), want ${tarball_sha}" >&2
    rm -rf "$work"
    exit 1
  fi
  tar -xzf "$tgz" -C "$work" "package/$member"
  local got="$work/package/$member"
  if [ "$(sha_of "$got")" != "$member_sha" ]; then
    echo "fetch-specs: $member of ${package} does not match the pinned sha256" >&2
    rm -rf "$work"
    exit 1
  fi
  mkdir -p "${dest%/*}"
  # Rename into place so a test never reads a half-written file.
  mv "$got" "$dest.tmp" && mv "$dest.tmp" "$dest"
  rm -rf "$work"
  echo "fetch-specs: $what stored in ${dest%/*}" >&2
}

fetch @octokit/openapi "$OCTOKIT_OPENAPI_VERSION" "$OPENAPI_TARBALL_SHA256" \
  generated/api.github.com.json "$OPENAPI_JSON_SHA256" \
  "$CACHE/octokit-openapi-${OCTOKIT_OPENAPI_VERSION}/api.github.com.json" \
  "GitHub OpenAPI ${OCTOKIT_OPENAPI_VERSION}"
fetch @octokit/graphql-schema "$OCTOKIT_GRAPHQL_SCHEMA_VERSION" "$GRAPHQL_TARBALL_SHA256" \
  schema.graphql "$GRAPHQL_SCHEMA_SHA256" \
  "$CACHE/octokit-graphql-schema-${OCTOKIT_GRAPHQL_SCHEMA_VERSION}/schema.graphql" \
  "GitHub GraphQL schema ${OCTOKIT_GRAPHQL_SCHEMA_VERSION}"

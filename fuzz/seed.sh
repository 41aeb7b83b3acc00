#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ with the real GitOps files: Terraform files
# for `terraform`, YAML files for `yaml`. The corpus is not committed.
# Usage: fuzz/seed.sh [CORPUS_DIR]   (default: shared/corpus/gitops beside the repo)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source="${1:-$here/../../shared/corpus/gitops}"
mkdir -p "$here/corpus/terraform" "$here/corpus/yaml" \
    "$here/artifacts/terraform" "$here/artifacts/yaml"
seed() {
    local target="$1"
    shift
    find "$source" -type f \( "$@" \) -print0 |
        while IFS= read -r -d '' file; do
            # Named by content, so seeding twice adds nothing.
            cp "$file" "$here/corpus/$target/seed-$(sha1sum <"$file" | cut -c1-16)"
        done
}
seed terraform -name '*.tf' -o -name '*.tofu' -o -name '*.tfvars'
seed yaml -name '*.yaml' -o -name '*.yml'
echo "corpus: $(ls "$here/corpus/terraform" | wc -l) terraform, $(ls "$here/corpus/yaml" | wc -l) yaml inputs"

#!/usr/bin/env bash
# Lint the GitHub workflows and the composite action, offline: schema validation, then zizmor's
# security audits (default persona). Called by .ci/run; PYBIN overrides the tools' bin directory.
set -euo pipefail

cd "$(dirname "$0")/.."
bin="${PYBIN:-.venv/bin}"

"$bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
"$bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
"$bin/zizmor" --offline --no-progress .github/workflows action.yml

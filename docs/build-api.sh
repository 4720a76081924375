#!/usr/bin/env bash
# Builds the API reference and the guides into docs/_site/ (open docs/_site/index.html), with docfx from the
# repository's tool manifest (.config/dotnet-tools.json). The API pages come from the XML docs of every package under
# src/ (docs/docfx.json lists which); docfx's warnings fail the build.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null
dotnet docfx docs/docfx.json --warningsAsErrors "$@"

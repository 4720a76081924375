#!/usr/bin/env bash
# Builds the API reference and the guides into docs/_site/ (then: dotnet docfx serve docs/_site), with docfx from the
# repository's tool manifest (.config/dotnet-tools.json). The API pages come from the XML docs of every package under
# src/ (docs/docfx.json lists which); docfx's warnings fail the build.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null
rm -rf docs/_site docs/api/*.yml docs/api/.manifest   # no page of a type that no longer exists
dotnet docfx docs/docfx.json --warningsAsErrors "$@"

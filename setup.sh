#!/usr/bin/env bash
# Prepares a fresh machine for Spotwise: checks the Swift toolchain, installs the Python packages
# the example trainers and the schema test use, and builds the `spotwise` binary.
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v swift >/dev/null 2>&1; then
    echo "setup.sh: the Swift toolchain (6.1 or later) is not on PATH; install it from https://swift.org/install" >&2
    exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
    say "installing python3 (apt)"
    apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null
fi

# Python packages: PyYAML and jsonschema for the job spec schema test; numpy and scikit-learn
# (its bundled digits data set: no download at run time) for the example trainers.
missing=()
python3 -c 'import yaml' 2>/dev/null || missing+=(pyyaml)
python3 -c 'import jsonschema' 2>/dev/null || missing+=(jsonschema)
python3 -c 'import numpy' 2>/dev/null || missing+=(numpy)
python3 -c 'import sklearn' 2>/dev/null || missing+=(scikit-learn)
if ((${#missing[@]})); then
    say "installing Python packages: ${missing[*]}"
    python3 -m pip install --quiet "${missing[@]}" || python3 -m pip install --quiet --break-system-packages "${missing[@]}"
fi

# The trainer library (python/, docs/trainer-sdk.md), installed again on every run to match this checkout.
python3 -m pip install --quiet ./python || python3 -m pip install --quiet --break-system-packages ./python

# The dashboard's browser tests (scripts/browser-test), only when asked: `./setup.sh --browser` or
# SPOTWISE_BROWSER_TESTS=1. Debian's chromium and chromium-driver (apt), and selenium and pytest.
browser_tests=${SPOTWISE_BROWSER_TESTS:-0}
for arg in "$@"; do if [ "$arg" = --browser ]; then browser_tests=1; fi; done
if [ "$browser_tests" = 1 ]; then
    if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
        say "installing chromium and chromium-driver (apt)"
        apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
    fi
    if ! python3 -c 'import selenium, pytest' 2>/dev/null; then
        say "installing Python packages: selenium pytest"
        python3 -m pip install --quiet selenium pytest || python3 -m pip install --quiet --break-system-packages selenium pytest
    fi
fi

say "building spotwise (the first build fetches and compiles dependencies: a few minutes)"
swift build --product spotwise
say "ready: .build/debug/spotwise (or: swift run spotwise --help)"

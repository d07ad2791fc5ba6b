#!/usr/bin/env bash
# The one install of hostscore, used by `make run` / `make test` (the README's commands) and by the
# Dockerfile: the Debian packages it needs, a virtual environment with torch pinned, then hostscore
# with its extras. Settings from the environment:
#   VENV              the virtual environment (default .venv)
#   EXTRAS            pip extras of hostscore (default "test"; the image installs none)
#   TORCH_INDEX_URL   where torch comes from (e.g. https://download.pytorch.org/whl/cu124 for a GPU image)
#   PYTHON            the interpreter that makes the venv (default python3)
# --check: print what would be run, and change nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
EXTRAS=${EXTRAS-test}
PYTHON=${PYTHON:-python3}
TORCH="torch==2.13.0"  # pinned, and installed first: an unpinned resolve pulls a multi-GB CUDA build
DEBIAN_PACKAGES="ffmpeg sox espeak-ng libsndfile1"
case ",$EXTRAS," in *,test,*) DEBIAN_PACKAGES="$DEBIAN_PACKAGES chromium" ;; esac  # the pages' browser tests drive it
CHECK=0
case "${1:-}" in
  --check|--dry-run) CHECK=1 ;;
  "") ;;
  *) echo "usage: scripts/install.sh [--check]" >&2; exit 2 ;;
esac

run() {
  if [ "$CHECK" = 1 ]; then echo "would run: $*"; else "$@"; fi
}

missing=$(for p in $DEBIAN_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done | xargs)
if [ -n "$missing" ]; then
  echo "installing Debian packages: $missing"
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  run $SUDO apt-get update -qq
  run $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

run "$PYTHON" -m venv "$VENV"
run "$VENV/bin/pip" install --quiet --upgrade pip
run "$VENV/bin/pip" install --quiet ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH"
run "$VENV/bin/pip" install --quiet -e ".${EXTRAS:+[$EXTRAS]}"

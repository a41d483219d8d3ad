#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine: Debian packages
# (when root), Python packages (editable install with dev extras) and npm
# packages. Idempotent; safe to run on every `make test` / `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PKGS="ffmpeg chromium postgresql redis-server linuxptp gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good fluidsynth fluid-soundfont-gm espeak-ng libsndfile1 brotli curl tzdata wrk pocketsphinx-testdata"
STAMP=.setup-stamp
need_apt=0
for b in ffmpeg ffprobe chromium gst-launch-1.0 fluidsynth espeak-ng curl wrk redis-server ptp4l; do
  command -v "$b" >/dev/null 2>&1 || need_apt=1
done
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need_apt=1
[ -d /usr/share/pocketsphinx/test/data/librivox ] || need_apt=1  # real speech for the genre smoke test
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt=1
[ -d /usr/share/zoneinfo/Europe ] || need_apt=1
gst-inspect-1.0 rtpL24pay >/dev/null 2>&1 || need_apt=1
if [ "$need_apt" = 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] installing Debian packages: $APT_PKGS"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $APT_PKGS >/dev/null
  else
    echo "[setup] WARNING: not root; install these Debian packages yourself: $APT_PKGS" >&2
  fi
fi
PY=${PYTHON:-python3}
hash_now=$(cat pyproject.toml package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
# Reinstall when the dependency files changed, or when the installed packages are not this
# checkout's (an editable install of another clone would test the wrong code).
installed_here() {
  $PY - <<'PYEOF' 2>/dev/null
import os, sys
import aimixer_dsp, aimixer_train, origin
here = os.path.realpath(os.getcwd())
ok = all(os.path.realpath(m.__file__).startswith(here + os.sep) for m in (aimixer_dsp, aimixer_train, origin))
sys.exit(0 if ok else 1)
PYEOF
}
if [ ! -f "$STAMP" ] || [ "$(cat $STAMP)" != "$hash_now" ] || ! installed_here || [ ! -d node_modules/pyodide ] || [ ! -d node_modules/miniflare ] || [ ! -d node_modules/swagger-ui-dist ]; then
  echo "[setup] installing Python packages"
  $PY -m pip install -q --disable-pip-version-check -e '.[dev]'
  if [ -f package.json ]; then
    echo "[setup] installing npm packages"
    if [ -f package-lock.json ]; then npm ci --silent --no-audit --no-fund; else npm install --silent --no-audit --no-fund; fi
  fi
  echo "$hash_now" > "$STAMP"
fi

#!/usr/bin/env bash
# Runs every Plusbox test: formatting, lints, unit/integration/cross-check tests, doc tests.
# On a fresh Debian machine it installs the system tools the tests use when run as root;
# otherwise it says exactly what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Debian packages the tests need, as "command:package" (chromium drives the companion UI tests).
NEEDED_TOOLS=(openssl:openssl zbarimg:zbar-tools qrencode:qrencode chromium:chromium)
# The Tauri app (src-tauri) builds against WebKitGTK; its end-to-end test drives the real window
# with WebKitWebDriver under Xvfb.
NEEDED_TOOLS+=(WebKitWebDriver:webkit2gtk-driver Xvfb:xvfb)
# A device key kept in the platform keystore is tested against a real Secret Service: GNOME
# Keyring on a private D-Bus session bus, read back with libsecret's secret-tool.
NEEDED_TOOLS+=(dbus-daemon:dbus-daemon dbus-send:dbus-bin gnome-keyring-daemon:gnome-keyring secret-tool:libsecret-tools)
missing=()
for entry in "${NEEDED_TOOLS[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry##*:}")
done
# Chinese glyphs for the zh-CN screens of the companion UI.
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
pkg-config --exists webkit2gtk-4.1 2>/dev/null || missing+=(pkg-config libwebkit2gtk-4.1-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    step "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "missing system packages; install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
if ! python3 -c 'import cryptography' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] || [ -n "${VIRTUAL_ENV:-}" ]; then
    step "installing Python cryptography (independent signer for cross-checks)"
    python3 -m pip install --quiet cryptography
  else
    echo "missing Python package; install it with: python3 -m pip install --user cryptography" >&2
    exit 1
  fi
fi
# Companion UI (ui/): Node.js 20.19+ with npm; the UI's own dependencies come from package-lock.json.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; then
  echo "the companion UI needs Node.js 20.19 or newer with npm (found: $(node --version 2>/dev/null || echo none));" >&2
  echo "  install it from https://nodejs.org or your distribution's nodejs 20+ packages" >&2
  exit 1
fi
# zxing-cpp (and zbar through pyzbar) are the reference readers the QR scanner is measured
# against on the photo corpus, in process (crates/plusbox-companion/tests/photo_corpus.rs).
if ! python3 -c 'import zxingcpp, pyzbar.pyzbar, PIL' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] || [ -n "${VIRTUAL_ENV:-}" ]; then
    step "installing Python zxing-cpp, pyzbar and Pillow (reference QR readers for the photo corpus)"
    python3 -m pip install --quiet zxing-cpp pyzbar pillow
  else
    echo "missing Python packages; install them with: python3 -m pip install --user zxing-cpp pyzbar pillow" >&2
    exit 1
  fi
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "cargo-nextest is missing; install it with: cargo install --locked cargo-nextest" >&2
  exit 1
fi

# The UI build itself (ui/dist, embedded in plusbox) is made by crates/plusbox-ui/build.rs during
# the cargo build below, and only when the UI sources changed.
step "companion UI: npm ci, type check, lint, unit tests"
(
  cd ui
  npm ci --no-audit --no-fund --loglevel=error
  npm run --silent check
  npm run --silent lint
  npm test --silent
)

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo nextest (unit, integration and cross-check tests)"
cargo nextest run --workspace --locked --no-fail-fast

step "companion UI end to end (Chromium against the debug plusbox built by the tests above)"
(cd ui && PLUSBOX_BIN="$PWD/../target/debug/plusbox" npm run --silent e2e)

step "companion app end to end (tauri-driver + WebKitWebDriver under Xvfb, the debug plusbox-app built above)"
if ! command -v tauri-driver >/dev/null 2>&1; then
  step "installing tauri-driver (once)"
  cargo install --locked tauri-driver --version '^2'
fi
PLUSBOX_APP_BIN=target/debug/plusbox-app \
  node --test --test-concurrency=1 --test-reporter=spec src-tauri/e2e/app.test.mjs

step "doc tests"
cargo test --workspace --locked --doc

step "fuzz smoke run"
if ! cargo fuzz --help >/dev/null 2>&1; then
  step "installing cargo-fuzz (once; it runs on stable with RUSTC_BOOTSTRAP=1)"
  cargo install --locked cargo-fuzz
fi
scripts/fuzz-smoke.sh

step "all tests passed"

# Sourced by scripts/start and scripts/test: makes a fresh machine ready, and does nothing twice.
# - pnpm: the machine's pnpm 12 if present, otherwise a private copy from the npm registry in .tooling/.
# - dependencies: `pnpm install --frozen-lockfile`, only when the lockfile or a manifest changed.
# - Node >= 22.19: the `node` devDependency puts a real Node 22 binary in node_modules/.bin, which then
#   comes first on PATH (the machine's Node may be older; pnpm itself runs on Node 18+).
set -euo pipefail

VERITY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PNPM_VERSION="12.21.0"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 TURBO_NO_UPDATE_NOTIFIER=1

log() { printf '[verity] %s\n' "$*" >&2; }

ensure_pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [[ "$(pnpm --version 2>/dev/null)" == 12.* ]]; then return; fi
  local prefix="$VERITY_ROOT/.tooling/pnpm-$PNPM_VERSION"
  if [[ ! -x "$prefix/node_modules/.bin/pnpm" ]]; then
    command -v npm >/dev/null 2>&1 || { log "npm is required to obtain pnpm"; exit 1; }
    log "installing pnpm $PNPM_VERSION into .tooling/"
    npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION" >&2
  fi
  export PATH="$prefix/node_modules/.bin:$PATH"
}

install_stamp() {
  # Everything that decides what `pnpm install` would do.
  (cd "$VERITY_ROOT" && cat pnpm-lock.yaml pnpm-workspace.yaml package.json packages/*/package.json tooling/*/package.json apps/*/package.json examples/*/package.json 2>/dev/null) \
    | cksum | cut -d' ' -f1
}

ensure_dependencies() {
  local stamp_file="$VERITY_ROOT/node_modules/.verity-install-stamp" stamp
  stamp="$(install_stamp)"
  if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then return; fi
  log "installing dependencies (pnpm install --frozen-lockfile)"
  (cd "$VERITY_ROOT" && pnpm install --frozen-lockfile --reporter=append-only >&2)
  echo "$stamp" >"$stamp_file"
}

ensure_node() {
  export PATH="$VERITY_ROOT/node_modules/.bin:$PATH"
  local version major minor
  version="$(node --version)"; version="${version#v}"
  major="${version%%.*}"; minor="${version#*.}"; minor="${minor%%.*}"
  if (( major < 22 || (major == 22 && minor < 19) )); then
    log "Node $version is too old (need >= 22.19) and node_modules/.bin/node is missing"; exit 1
  fi
}

ensure_pnpm
ensure_dependencies
ensure_node
cd "$VERITY_ROOT"

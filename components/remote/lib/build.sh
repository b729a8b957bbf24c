#!/bin/bash
# What the three builds (venv, frontend, release) do alike before they build: reuse a finished
# one, else take the host lock and check the room. Inlined after lib.sh by the renderer; sourced
# when a script runs by hand from a checkout.

export AI4ARTSED_BUILD_LIB=1

# already_built DIR WHAT: DIR was built whole before (its .complete marker, written last), so a
# build has nothing to do; says it reuses WHAT.
already_built() {
  [[ -f "$1/.complete" ]] || return 1
  log "reusing $2"
}

# begin_build DIR WHAT: the host lock held, and room for WHAT on DIR's filesystem.
begin_build() {
  take_host_lock
  require_free_space "$1" "${MIN_FREE_MB:-0}" "$2"
}

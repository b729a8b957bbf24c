#!/bin/bash
# What the app repository's CI workflow (ci/github/ai4artsed.yml) runs, one action a call:
#   scripts/ci.sh test <app checkout>   the app's tests: its Python compiles, its frontend builds
#                                       (type check included) and passes its unit tests
#   scripts/ci.sh preview <stack>       pulumi preview of the stack, its plan in the job summary
#                                       and, on a pull request, in a comment there (PR_NUMBER,
#                                       GITHUB_TOKEN; updated on each push)
#   scripts/ci.sh deploy <stack>        pulumi up of DEPLOY_REVISION (the pushed commit, the one
#                                       that was tested; unset: the branch head), then the
#                                       after-deploy check (npm run smoke)
# A failed deploy, a reverted one among them, fails the job with the program's own message.
set -euo pipefail
STEP="ci"
# shellcheck source=scripts/lib/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"

# summary LINE...: to the job's summary page (GitHub and act set GITHUB_STEP_SUMMARY).
summary() {
  [[ -z "${GITHUB_STEP_SUMMARY:-}" ]] || printf '%s\n' "$@" >>"${GITHUB_STEP_SUMMARY}"
}

readonly FENCE='```'

die() {
  err "$@"
  exit 1
}

# fenced FILE: FILE's last lines in a code block, for the summary.
fenced() {
  printf '%s\n%s\n%s\n' "${FENCE}" "$(tail -n 40 "$1")" "${FENCE}"
}

# logged TITLE COMMAND...: run COMMAND in the deployment's root with its output in the log and
# in the job's summary under TITLE (kept in REPORT too); a failure's error lines (the engine's,
# and the program's own "deploy of <commit> failed ..." from a step's output) become the job's
# error annotations.
REPORT=""
logged() {
  local title="$1" out status=0
  shift
  out="$(mktemp)"
  (cd "${SETUP_ROOT}" && "$@") 2>&1 | tee "${out}" || status=$?
  if ((status == 0)); then
    REPORT="$(printf '%s\n' "### ${title}" "$(fenced "${out}")")"
  else
    grep -E -o -e '^\s*error: .*' -e 'deploy of [0-9a-f]{7,} failed.*' "${out}" | grep -v -x -E '\s*error: update failed' \
      | sed -E -e 's/^\s*error: //' -e "s/^/::error title=${title} failed::/" | head -n 5 || true
    REPORT="$(printf '%s\n' "### ${title} failed" "$(fenced "${out}")")"
  fi
  summary "${REPORT}"
  rm -f "${out}"
  return "${status}"
}

run_tests() {
  local app="$1" backend="${APP_BACKEND_DIR:-devserver}" frontend="${APP_FRONTEND_DIR:-public/ai4artsed-frontend}"
  [[ -d "${app}/${backend}" ]] || die "no ${backend}/ in ${app} (set APP_BACKEND_DIR)"
  log "the app's Python compiles (${backend}/)"
  python3 -m compileall -q "${app}/${backend}"
  [[ -d "${app}/${frontend}" ]] || die "no ${frontend}/ in ${app} (set APP_FRONTEND_DIR)"
  log "the frontend builds (${frontend}/: npm ci, npm run build)"
  (cd "${app}/${frontend}" && npm ci --no-audit --no-fund --loglevel=error && npm run build)
  if (cd "${app}/${frontend}" && npm pkg get scripts.test:unit | grep -q '"'); then
    log "the frontend's unit tests (npm run test:unit)"
    (cd "${app}/${frontend}" && npm run test:unit -- --run)
  fi
  summary "### The app's tests passed" "Python compiles; the frontend builds and passes its unit tests."
}

run_preview() {
  local status=0
  logged "pulumi preview -s $1" pulumi preview --diff --non-interactive --stack "$1" || status=$?
  # A failed preview is worth the comment too: the PR's author sees why.
  if [[ -n "${PR_NUMBER:-}" ]]; then
    printf '%s\n' "${REPORT}" | (cd "${SETUP_ROOT}" && node --import tsx scripts/pr-comment.ts "$1")
  fi
  ((status == 0)) || die "pulumi preview of stack $1 failed (above)"
}

run_deploy() {
  local stack="$1" screenshot="${PWD}/smoke-$1.png"
  # Pinned in this run's checkout only: a newer push to the branch is deployed by its own run.
  if [[ -n "${DEPLOY_REVISION:-}" ]]; then
    (cd "${SETUP_ROOT}" && pulumi config set --path app.revision "${DEPLOY_REVISION}" --stack "${stack}")
  fi
  logged "pulumi up -s ${stack}" pulumi up --yes --skip-preview --non-interactive --stack "${stack}" \
    || die "the deploy of stack ${stack} failed; what serves is named above"
  ensure_browser
  logged "the after-deploy check of ${stack}" node --import tsx scripts/smoke.ts --stack "${stack}" --screenshot "${screenshot}" \
    || die "the after-deploy check of stack ${stack} failed (above)"
}

main() {
  (($# == 2)) || { err "usage: scripts/ci.sh test <app dir> | preview <stack> | deploy <stack>"; exit 2; }
  case "$1" in
    test) run_tests "$(cd "$2" && pwd)" ;;
    preview | deploy)
      ensure_node_modules
      pulumi_on_path
      "run_$1" "$2"
      ;;
    *) err "usage: scripts/ci.sh test <app dir> | preview <stack> | deploy <stack>"; exit 2 ;;
  esac
}

main "$@"

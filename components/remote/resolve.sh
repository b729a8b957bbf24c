#!/bin/bash
# Fetch the branch (or pinned revision) into the host's bare mirror and print the
# content keys a deploy needs: commit, requirements blob, frontend tree, each extra service's tree.
set -euo pipefail
STEP="${STEP:-resolve}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# mirror_path: INSTALL_DIR/repo.git when INSTALL_DIR is absent, empty or this program's (also what
# destroy leaves); beside it while it holds something else (a hand-made checkout, which the
# host's adopt step checks, takes over and moves the mirror into). Never writes into a checkout.
mirror_path() {
  if [[ -d "${INSTALL_DIR}/repo.git" || -d "${INSTALL_DIR}/releases" || ! -e "${INSTALL_DIR}" ]] \
    || [[ -d "${INSTALL_DIR}" && -z "$(ls -A "${INSTALL_DIR}")" ]] \
    || [[ -d "${INSTALL_DIR}/shared" && ! -e "${INSTALL_DIR}/.git" ]]; then
    printf '%s/repo.git\n' "${INSTALL_DIR}"
  else
    printf '%s.mirror.git\n' "${INSTALL_DIR}"
  fi
}

ensure_mirror() {
  local mirror="$1"
  if [[ ! -d "${mirror}" ]]; then
    mkdir -p "$(dirname "${mirror}")"
    git init --quiet --bare "${mirror}"
  fi
  if [[ "$(git --git-dir="${mirror}" config --get remote.origin.url || true)" != "${REPO_URL}" ]]; then
    git --git-dir="${mirror}" config remote.origin.url "${REPO_URL}"
  fi
}

fetch_branch() {
  local mirror="$1" output
  if ! output="$(git --git-dir="${mirror}" fetch --quiet --prune --no-tags origin \
    "+refs/heads/${BRANCH}:refs/heads/${BRANCH}" 2>&1)"; then
    err "${output}"
    die "cannot fetch branch '${BRANCH}' from ${REPO_URL}; check app.repoUrl, app.branch and the server's access to the repository"
  fi
}

resolve_commit() {
  local mirror="$1"
  if [[ -n "${REVISION:-}" ]]; then
    git --git-dir="${mirror}" rev-parse --quiet --verify "${REVISION}^{commit}" \
      || die "app.revision ${REVISION} is not a commit of ${REPO_URL} (fetched branch '${BRANCH}'); pin a commit of that branch"
  else
    git --git-dir="${mirror}" rev-parse --verify "refs/heads/${BRANCH}^{commit}"
  fi
}

object_id() {
  local mirror="$1" commit="$2" path="$3" setting="$4"
  git --git-dir="${mirror}" rev-parse --quiet --verify "${commit}:${path}" \
    || die "${path} does not exist in commit ${commit}; set ${setting} to its path in the repository"
}

main() {
  require_vars INSTALL_DIR REPO_URL BRANCH REQUIREMENTS_FILE FRONTEND_DIR
  command -v git >/dev/null || die "git is not installed on this server; install it with 'apt-get install git' and run again"
  take_host_lock
  local mirror
  mirror="$(mirror_path)"
  ensure_mirror "${mirror}"
  fetch_branch "${mirror}"
  local commit
  commit="$(resolve_commit "${mirror}")"
  printf 'commit=%s\n' "${commit}"
  printf 'requirements=%s\n' "$(object_id "${mirror}" "${commit}" "${REQUIREMENTS_FILE}" app.requirementsFile)"
  printf 'frontend=%s\n' "$(object_id "${mirror}" "${commit}" "${FRONTEND_DIR}" app.frontendDir)"
  # The app's extra services (app.services): each one's directory tree, what restarts it.
  local name directory
  while read -r name directory; do
    [[ -z "${name}" ]] || printf 'service:%s=%s\n' "${name}" "$(object_id "${mirror}" "${commit}" "${directory}" "app.services.${name}.directory")"
  done <<<"${SERVICE_DIRS:-}"
}

main "$@"

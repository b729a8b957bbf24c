#!/bin/bash
# Build venvs/<requirements blob> once with uv, beside the serving venv (never into it). The build
# user installs it, fetching and building into uv's cache (none of the registries' code runs as
# root); root then hardlinks each file from the cache and seals the venv, and bytecode comes from
# the previous venv where the source is the same file. A venv whose build was cut is rebuilt, a
# finished one reused.
set -euo pipefail
STEP="${STEP:-python-env}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/sandbox.sh
[[ -n "${AI4ARTSED_SANDBOX_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/sandbox.sh"
# shellcheck source=SCRIPTDIR/lib/build.sh
[[ -n "${AI4ARTSED_BUILD_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/build.sh"
# shellcheck source=SCRIPTDIR/lib/result.sh
[[ -n "${AI4ARTSED_RESULT_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/result.sh"

# uv_cache_dir: the host-wide cache when it is on the venvs' filesystem (hardlinks need one),
# else one inside venvs/.
uv_cache_dir() {
  mkdir -p "${UV_CACHE}"
  if [[ "$(stat -c %d "${UV_CACHE}")" == "$(stat -c %d "${INSTALL_DIR}/venvs")" ]]; then
    printf '%s\n' "${UV_CACHE}"
  else
    printf '%s\n' "${INSTALL_DIR}/venvs/.uv-cache"
  fi
}

# previous_venv NEW: the newest other complete venv (usually the serving one), or nothing.
previous_venv() {
  local new="$1"
  find "${INSTALL_DIR}/venvs" -mindepth 2 -maxdepth 2 -name .complete -printf '%T@ %h\n' \
    | sort -rn | cut -d' ' -f2- | grep -vxF "${new}" | head -n 1 || true
}

# give_cache_to_builder CACHE: the build user writes uv's cache: its directories and every file
# no venv links. A file a venv links stays root's (a venv is sealed root's when built), so no
# later build can change what a release runs.
give_cache_to_builder() {
  find "$1" ! -user "${BUILD_USER}" \( -type d -o -links 1 \) -exec chown -h "${BUILD_USER}:" {} +
}

# install_as_builder VENV SCRATCH CACHE: as the build user (lib/sandbox.sh), make VENV and
# install the requirements (SCRATCH/requirements.txt, with SCRATCH/recorded-resolution.txt as
# constraints when there is one): fetched into CACHE, what comes as source built there, each
# file a symlink into CACHE (the build user may not hardlink the root-owned files a served venv
# shares with the cache). Its resolution goes to SCRATCH/resolution.txt; the rest on stderr.
install_as_builder() {
  local venv="$1" scratch="$2" cache="$3"
  # unsafe-best-match: an --extra-index-url in the requirements file works as it does with pip.
  local -a constraints=() options=(--setenv=UV_CACHE_DIR="${cache}" --setenv=UV_PYTHON_DOWNLOADS=never
    --setenv=UV_NO_PROGRESS=1 --setenv=UV_SYSTEM_CERTS=true --setenv=UV_NO_CONFIG=1 --setenv=UV_INDEX_STRATEGY=unsafe-best-match)
  [[ ! -f "${scratch}/recorded-resolution.txt" ]] || constraints=(--constraints "${scratch}/recorded-resolution.txt")
  install -d -o "${BUILD_USER}" -g "$(id -gn "${BUILD_USER}")" "${venv}"
  chown -R "${BUILD_USER}:" "${scratch}"
  local -a builder=(as_builder "${scratch}" "${scratch} ${venv} ${cache}" "${options[@]}" --)
  "${builder[@]}" "${UV}" venv --quiet --no-project --allow-existing --python "${PYTHON}" "${venv}" >&2 \
    && "${builder[@]}" "${UV}" pip install --quiet --python "${venv}/bin/python" --link-mode=symlink \
      -r "${scratch}/requirements.txt" "${constraints[@]}" >&2 \
    && "${builder[@]}" "${UV}" pip freeze --quiet --python "${venv}/bin/python" >"${scratch}/resolution.txt"
}

# harden_links VENV CACHE: replace each symlink of VENV into CACHE by a hardlink of its target
# (a directory by a tree of them), then make VENV root's and read-only to everyone else, the
# files it shares with the cache included: a venv that does not depend on the cache's paths, that
# no later build can change, and that adds nothing to the disk.
harden_links() {
  "${PYTHON}" -I -S - "$1" "$2" <<'PY'
import os, shutil, sys
venv, cache = sys.argv[1], os.path.realpath(sys.argv[2])
linked = 0
for root, dirs, files in os.walk(venv):
    for name in dirs + files:
        path = os.path.join(root, name)
        target = os.path.realpath(path)
        if not os.path.islink(path) or not target.startswith(cache + os.sep):
            continue
        hard = path + ".ai4artsed-hardlink"
        if os.path.isdir(target):
            shutil.copytree(target, hard, symlinks=True, copy_function=os.link)
            os.unlink(path)
        else:
            os.link(target, hard)
        os.replace(hard, path)
        linked += 1
print(f"{linked} files linked from uv's cache")
PY
  chown -R root:root "$1"
  chmod -R go-w "$1"
}

# bytecode NEW PREVIOUS: hardlink each .pyc of PREVIOUS whose source is the same file (same
# inode, so the same content and mtime) into NEW, and compile the rest on all cores. The
# app's unit never writes bytecode, so without it every start compiles every import again.
# A file some wheel ships that is no valid Python (a template) stays without, as with pip.
# No site (-S): the venv's .pth files are the registries' code, and this runs as root.
bytecode() {
  "$1/bin/python" -I -S - "$1" "${2:-}" <<'PY'
import importlib.util, multiprocessing, os, py_compile, sys
from concurrent.futures import ProcessPoolExecutor
new, previous = sys.argv[1], sys.argv[2]

def compile_one(source):
    try:
        py_compile.compile(source, doraise=True)
    except (py_compile.PyCompileError, OSError):
        pass

missing = []
for root, dirs, files in os.walk(os.path.join(new, "lib")):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    made = False
    for name in files:
        if not name.endswith(".py"):
            continue
        source = os.path.join(root, name)
        try:
            old = os.path.join(previous, os.path.relpath(source, new))
            if previous and os.stat(old).st_ino == os.stat(source).st_ino:
                cached = importlib.util.cache_from_source(source)
                made = made or os.makedirs(os.path.dirname(cached), exist_ok=True) or True
                os.link(importlib.util.cache_from_source(old), cached)
                continue
        except OSError:
            pass
        missing.append(source)
with ProcessPoolExecutor(mp_context=multiprocessing.get_context("fork")) as pool:
    list(pool.map(compile_one, missing, chunksize=32))
PY
}

# import_check NEW PREVIOUS SCRATCH: whether the top-level modules of every distribution that is
# new in NEW, or depends on one that is, import (native libraries load, hardlinked files are
# whole). The others are the files PREVIOUS served with. Prints what failed, or how many modules
# imported. A failure here is a warning: a resolved stack of many distributions often holds
# one that nothing the app imports needs and that does not import (the release step refuses a
# venv that fails what the app imports). The imports run as the build user, offline, writing
# only in SCRATCH.
import_check() {
  local new="$1" previous="$2" scratch="$3"
  as_builder "${scratch}" "${scratch}" --property=PrivateNetwork=yes -- "${new}/bin/python" -I -B - "${previous}" <<'PY' 2>&1
import glob, importlib, importlib.metadata as md, re, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
key = lambda dist: (norm(dist.metadata["Name"]), dist.version)
old = {key(d) for p in glob.glob(f"{sys.argv[1]}/lib/python*/site-packages") for d in md.distributions(path=[p])}
dists = {norm(d.metadata["Name"]): d for d in md.distributions()}
checked = {name for name, d in dists.items() if key(d) not in old}
grown = True
while grown:  # add the dependents of what is checked, until nothing is added
    grown = False
    for name, dist in dists.items():
        needs = {norm(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in dist.requires or []}
        if name not in checked and needs & checked:
            checked.add(name)
            grown = True
skip = {"test", "tests", "testing", "docs", "doc", "examples", "benchmarks", "scripts"}
modules = set()
for name in checked:
    for path in dists[name].files or []:
        top = path.parts[0]
        if len(path.parts) == 1:
            top = re.sub(r"\.(py|[^.]*\.so|so)$", "", top) if re.search(r"\.(py|so)$", top) else ""
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", top) and top.lower() not in skip:
            modules.add(top)
failed = []
for module in sorted(modules):
    try:
        importlib.import_module(module)
    except BaseException as exc:  # a failing import may raise anything, SystemExit included
        failed.append(f"import {module}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
print("\n".join(failed) or f"imported {len(modules)} top-level modules of {len(checked)} new or dependent distributions")
sys.exit(1 if failed else 0)
PY
}

# resolution_changes OLD NEW: the packages whose versions differ between two `name==version`
# lists, one line each: `name old -> new`, `+ name version` (added), `- name version` (removed).
resolution_changes() {
  awk -F'==' '
    NR == FNR { old[tolower($1)] = $2; next }
    { name = tolower($1); if (!(name in old)) print "+ " $1 " " $2; else if (old[name] != $2) print $1 " " old[name] " -> " $2; seen[name] = 1 }
    END { for (name in old) if (!(name in seen)) print "- " name " " old[name] }
  ' "$1" "$2" | sort
}

# report_resolution VENV: the recorded resolution as the step's result (the program keeps it in
# the stack's state, so a rebuild on another server installs the same versions).
report_resolution() {
  # A venv built before resolutions were recorded: record what it holds (uv runs its python: as the build user).
  if [[ ! -f "$1/${RESOLUTION_FILE}" ]]; then
    local scratch="${INSTALL_DIR}/venvs/.tmp-freeze"
    mkdir -p "${scratch}"
    as_builder "${scratch}" "${scratch}" -- "${UV}" pip freeze --quiet --python "$1/bin/python" >"$1/${RESOLUTION_FILE}"
    rm -rf "${scratch}"
  fi
  step_result resolution "$(base64 -w0 <"$1/${RESOLUTION_FILE}" | tr '+/' '-_' | tr -d '=')"
}

main() {
  require_vars INSTALL_DIR REQUIREMENTS_BLOB PYTHON UV UV_CACHE RESOLUTION_FILE BUILD_USER ENV_DIR
  local venv="${INSTALL_DIR}/venvs/${REQUIREMENTS_BLOB}"
  if already_built "${venv}" "${venv}"; then
    report_resolution "${venv}"
    return 0
  fi
  begin_build "${INSTALL_DIR}/venvs" "the venv for requirements ${REQUIREMENTS_BLOB}"
  # A venv records its absolute path, so it is built in place; the marker says it is whole.
  # Temporary files stay on the venvs' disk: /tmp is often a small tmpfs.
  local scratch="${INSTALL_DIR}/venvs/.tmp-${REQUIREMENTS_BLOB}" cache previous
  rm -rf "${venv}" "${scratch}"
  mkdir -p "${scratch}"
  cache="$(uv_cache_dir)"
  give_cache_to_builder "${cache}"
  previous="$(previous_venv "${venv}")"
  git --git-dir="${INSTALL_DIR}/repo.git" cat-file blob "${REQUIREMENTS_BLOB}" >"${scratch}/requirements.txt"
  # The versions this requirements file resolved to when it was first built, from the stack's
  # state: a rebuild (another server, a wiped venv) installs exactly those, whatever is newer now.
  if [[ -n "${RECORDED_RESOLUTION:-}" ]]; then
    printf '%s\n' "${RECORDED_RESOLUTION}" >"${scratch}/recorded-resolution.txt"
    log "installing the recorded resolution of requirements ${REQUIREMENTS_BLOB}" \
      "($(grep -c . "${scratch}/recorded-resolution.txt") packages)"
  fi
  log "building ${venv} (uv cache ${cache}) as ${BUILD_USER}"
  if ! install_as_builder "${venv}" "${scratch}" "${cache}"; then
    rm -rf "${venv}" "${scratch}"
    die "installing requirements ${REQUIREMENTS_BLOB} failed; the serving release keeps its own venv"
  fi
  cp "${scratch}/requirements.txt" "${venv}/requirements.txt"
  cp "${scratch}/resolution.txt" "${venv}/${RESOLUTION_FILE}"
  log "$(harden_links "${venv}" "${cache}")"
  if [[ -n "${previous}" && -f "${previous}/${RESOLUTION_FILE}" ]]; then
    local change
    while IFS= read -r change; do
      log "package change against ${previous##*/}: ${change}"
    done < <(resolution_changes "${previous}/${RESOLUTION_FILE}" "${venv}/${RESOLUTION_FILE}")
  fi
  bytecode "${venv}" "${previous}"
  local imports line module
  if ! imports="$(import_check "${venv}" "${previous}" "${scratch}")"; then
    # Only the failures: what the imports print on stderr meanwhile (deprecation notices) is no warning.
    while IFS= read -r line; do
      [[ "${line}" == "import "*": "* ]] || continue
      module="${line#import }"
      module="${module%%: *}"
      log "warning: venv ${REQUIREMENTS_BLOB}: ${module} does not import (${line#import "${module}": }); not refused: the release step refuses only what the app imports at start"
    done <<<"${imports}"
  else
    log "${imports}"
  fi
  rm -rf "${scratch}"
  # observe.sh reports it, so later runs keep passing the record and the step stays unchanged.
  [[ -z "${RECORDED_RESOLUTION:-}" ]] || touch "${venv}/.built-from-record"
  touch "${venv}/.complete"
  log "built ${venv}"
  report_resolution "${venv}"
}

main "$@"

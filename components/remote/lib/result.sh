#!/bin/bash
# A step's machine-readable result, for steps whose outcome the program reads.
# Inlined after lib.sh (commands.ts SCRIPT_HELPERS), which provides die.

export AI4ARTSED_RESULT_LIB=1

# step_result KEY VALUE...: the step's machine-readable result as its last line of stdout,
# `@@result {"KEY":"VALUE",...}`; the program reads it (stepResultOf), never a log line.
step_result() {
  local fields="" separator=""
  while (($# >= 2)); do
    [[ "$2" =~ ^[A-Za-z0-9@._:/-]*$ ]] || die "step result ${1}: ${2} is not a plain name"
    fields+="${separator}\"$1\":\"$2\""
    separator=","
    shift 2
  done
  printf '@@result {%s}\n' "${fields}"
}

# shellcheck shell=bash source-path=SCRIPTDIR
# Reaper of one stack (started by cdc_stack_up in tests/harness/stack.sh; not for direct
# use): bash reaper.sh OWNER_PID OWNER_START T
#
# Polls twice a second whether the shell that brought the stack up still runs (pid plus
# start time, so pid reuse cannot fool it). When that shell is gone without having torn
# the stack down (SIGKILL, ctest timeout, replaced EXIT trap), it tears down T itself.
# When T disappears (normal teardown), it exits; normal teardown also kills it.
set -u
owner=$1 owner_start=$2 t=$3
# shellcheck source=stack.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"
# shellcheck disable=SC2034 # read by _cdc_log
CDC_STACK_QUIET=1
trap '' INT HUP
# Normal teardown stops us with SIGTERM; `wait` returns at once for the trap, and the
# sleep is killed too, so nothing of ours outlives the stack.
sleeper=''
trap '[[ -n $sleeper ]] && kill "$sleeper" 2>/dev/null && wait "$sleeper"; exit 0' TERM
printf '%s\n' "$BASHPID" >"$t/reaper.pid" 2>/dev/null || exit 0
while [[ -d $t ]]; do
    if ! _cdc_proc_stat "$owner" || [[ $_CDC_PSTATE == Z || $_CDC_PSTART != "$owner_start" ]]; then
        _cdc_stack_teardown_dir "$t" 1
        exit $?
    fi
    sleep 0.5 &
    sleeper=$!
    wait "$sleeper"
    sleeper=''
done
exit 0

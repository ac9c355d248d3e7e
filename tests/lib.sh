# lib.sh - TAP helpers for the zplan shell tests (POSIX sh; sourced).
#
# The tests run under automake's TAP driver with ZPLAN (the binary),
# ZPLAN_DATADIR and ZPLAN_SRCDIR in the environment; by hand, from the
# top of the tree, the defaults below apply:  sh tests/cli.sh
#
#   ok STATUS MSG       passes when STATUS is 0
#   is GOT WANT MSG     passes when the strings are equal (diagnoses if not)
#   jok FILE FILTER MSG passes when `jq FILTER FILE` prints exactly "true"
#   run CMD...          runs CMD: $out, $err (text), $outf, $errf (files), $rc
#   skip REASON         a skipped test (a limit of this machine: no GPU, root)
#   skip_dep REASON     a test skipped for a missing dependency: under
#                       CI=true a failure (the CI machine has them all)
#   missing REASON      the whole script skipped for a missing dependency
#                       (1..0 # SKIP), or failed under CI=true
#   python_with MODULE  prints a python3 that imports MODULE: $PYTHON when
#                       set, else python3 on PATH, else Debian's own (a
#                       python3 of pyenv or a venv may lack Debian's modules)
#   diag TEXT...        a '#' comment
#   finish              prints the plan 1..N; exits 1 if anything failed
#
# $tmp is a private directory, removed on exit.  Every database goes
# there: ZPLAN_DB points into it, so a test that forgets --db cannot
# write ./zplan.db.

: "${ZPLAN_SRCDIR:=.}"
: "${ZPLAN:=./zplan}"
: "${ZPLAN_DATADIR:=$ZPLAN_SRCDIR/data}"
case $ZPLAN in
/*) ;;
*/*) ZPLAN=$(pwd)/$ZPLAN ;;
esac
case $ZPLAN_SRCDIR in
/*) ;;
*) ZPLAN_SRCDIR=$(cd "$ZPLAN_SRCDIR" && pwd) ;;
esac
case $ZPLAN_DATADIR in
/*) ;;
*) ZPLAN_DATADIR=$(cd "$ZPLAN_DATADIR" && pwd) ;;
esac
export ZPLAN ZPLAN_SRCDIR ZPLAN_DATADIR

python_with() {
    for _p in ${PYTHON:-python3 /usr/bin/python3}; do
        if command -v "$_p" >/dev/null 2>&1 && "$_p" -c "import $1" >/dev/null 2>&1; then
            echo "$_p"
            return 0
        fi
    done
    return 1
}

missing() {
    if [ "${CI:-}" = true ]; then
        echo "not ok 1 - $1 (CI=true: the CI machine must have it; scripts/setup installs it)"
        echo "Bail out! $1"
        exit 1
    fi
    echo "1..0 # SKIP $1"
    exit 0
}
command -v jq >/dev/null 2>&1 || missing "jq is not installed"
if [ ! -x "$ZPLAN" ]; then
    echo "Bail out! $ZPLAN is not an executable (build it, or set ZPLAN)"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zplan-test.XXXXXX") || {
    echo "Bail out! mktemp -d failed"
    exit 1
}
trap 'rm -rf "$tmp"' 0
trap 'exit 1' 1 2 15
ZPLAN_DB=$tmp/default.db
export ZPLAN_DB

tap_n=0
tap_failed=0

# need_engine [sqlite3]: skip the whole script (TAP plan 1..0) unless
# zplan-engine ($ZPLAN_ENGINE, else beside zplan) and mpirun are there, and
# the sqlite3 shell where the script reads the database with it (not on the
# GPU test machine, where Debian's shell meets another SQLite library);
# exports ZPLAN_ENGINE and the Open MPI settings the ranks need here.
need_engine() {
    : "${ZPLAN_ENGINE:=$(dirname "$ZPLAN")/zplan-engine}"
    export ZPLAN_ENGINE
    if [ ! -x "$ZPLAN_ENGINE" ] || ! command -v mpirun >/dev/null 2>&1; then
        missing "zplan-engine or mpirun is missing (needs MPI and OpenBLAS)"
    fi
    if [ "${1:-}" = sqlite3 ] && ! command -v sqlite3 >/dev/null 2>&1; then
        missing "the sqlite3 shell is missing (Debian: sqlite3)"
    fi
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
}

diag() {
    printf '%s\n' "$*" | sed 's/^/# /'
}

ok() {
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ] 2>/dev/null; then
        printf 'ok %d - %s\n' "$tap_n" "$2"
        return 0
    fi
    printf 'not ok %d - %s\n' "$tap_n" "$2"
    tap_failed=$((tap_failed + 1))
    return 1
}

is() {
    if [ "$1" = "$2" ]; then
        ok 0 "$3"
    else
        ok 1 "$3"
        diag "     got: '$1'" "expected: '$2'"
        return 1
    fi
}

# jtrue FILE FILTER [JQ-OPTION...]: FILTER gives exactly one result, true.
# (jq 1.6 -e exits 0 on empty input: never rely on it.)
jtrue() {
    _f=$1
    _flt=$2
    shift 2
    _r=$(jq "$@" "$_flt" "$_f" 2>"$tmp/.jqerr")
    [ "$_r" = true ]
}

# jok FILE FILTER MSG [JQ-OPTION...]: a jq assertion on a JSON file.
jok() {
    _f=$1
    _flt=$2
    _msg=$3
    shift 3
    if jtrue "$_f" "$_flt" "$@"; then
        ok 0 "$_msg"
    else
        ok 1 "$_msg"
        diag "jq filter is not true: $_flt"
        [ -s "$tmp/.jqerr" ] && diag "$(head -c 1000 "$tmp/.jqerr")"
        [ -s "$_f" ] || diag "(the JSON file is empty)"
        return 1
    fi
}

skip() {
    tap_n=$((tap_n + 1))
    printf 'ok %d # SKIP %s\n' "$tap_n" "$1"
}

skip_dep() {
    if [ "${CI:-}" = true ]; then
        ok 1 "$1 (CI=true: a missing dependency is a failure)"
    else
        skip "$1"
    fi
}

# run CMD...: stdout in $outf/$out, stderr in $errf/$err, status in $rc.
outf=$tmp/.out
errf=$tmp/.err
run() {
    "$@" >"$outf" 2>"$errf"
    rc=$?
    out=$(cat "$outf")
    err=$(cat "$errf")
    return 0
}

# zp ARGS...: run the binary under test.
zp() {
    run "$ZPLAN" "$@"
}

# Show what a failed command said.
show_run() {
    diag "exit status: $rc"
    [ -s "$errf" ] && diag "stderr: $(head -c 2000 "$errf")"
    return 0
}

finish() {
    echo "1..$tap_n"
    if [ "$tap_failed" -ne 0 ]; then
        echo "# $tap_failed of $tap_n tests failed"
        exit 1
    fi
    exit 0
}

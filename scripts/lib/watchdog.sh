# A watchdog for `swift test`, sourced by scripts/test.
#
# A test that hangs would otherwise hold the run until CI's own limit ends
# it, with nothing to say which test hung or where. The watchdog ends the
# run once the test output has been silent for a given time (no test of the
# suite runs that long without printing a line), after printing the test in
# progress, the processes it started and, when gdb is installed, the stack
# of every thread of the test runner.

# descendants PID : every process below PID, children before grandchildren.
descendants() {
    local child
    for child in $(pgrep -P "$1" || true); do
        echo "$child"
        descendants "$child"
    done
}

# report_hung_test PID LOG LIMIT : what is known about the hang, on stderr.
report_hung_test() {
    local pid="$1" log="$2" limit="$3" last pids runner
    last="$(grep -E "^Test Case '.*' started at" "$log" | tail -1 || true)"
    {
        echo "error: no test output for ${limit} s: the suite is hung; ending it"
        echo "error: the test in progress: ${last:-none (between tests)}"
        pids="$(descendants "$pid" | tr '\n' ',')"
        [ -z "$pids" ] || ps -o pid,ppid,etime,stat,args -p "${pids%,}" || true
        runner="$(pgrep -P "$pid" -f '\.xctest' | head -1 || true)"
        if [ -n "$runner" ] && command -v gdb > /dev/null; then
            echo "error: threads of the test runner (pid $runner):"
            timeout 120 gdb -p "$runner" -batch -ex 'thread apply all bt 30' 2>&1 | grep -E '^(Thread|#)' || true
        fi
    } | tee -a "$log" >&2
}

# watch_test_output PID LOG LIMIT : ends PID and everything it started once
# LOG has not grown for LIMIT seconds; returns when PID has exited.
watch_test_output() {
    local pid="$1" log="$2" limit="$3" size=-1 now_size quiet_since="$SECONDS" victims
    while kill -0 "$pid" 2> /dev/null; do
        sleep 10
        now_size="$(stat -c %s "$log" 2> /dev/null || echo 0)"
        if [ "$now_size" != "$size" ]; then
            size="$now_size"
            quiet_since="$SECONDS"
            continue
        fi
        ((SECONDS - quiet_since >= limit)) || continue
        report_hung_test "$pid" "$log" "$limit"
        # The list is taken before any signal: once a parent dies, its
        # children are no longer found below the run.
        victims="$(descendants "$pid")"
        # shellcheck disable=SC2086
        kill -TERM "$pid" $victims 2> /dev/null || true
        sleep 10
        # shellcheck disable=SC2086
        kill -KILL "$pid" $victims 2> /dev/null || true
        return
    done
}

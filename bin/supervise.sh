# Sourced by bin/start (tests/test_supervise.py runs it alone). The caller holds an array `pids`.
#
# supervise NAME COMMAND...: run COMMAND; whenever it exits, log one line naming it and its exit status, and start
# it again after a back-off (1 s, doubling to 60 s; back to 1 s once it has run a minute). A worker killed for
# memory, or the emulator crashing, never takes the web server down with it.
supervise() {
  local name=$1; shift
  (
    child=""
    # Stop the child, and give it STOP_GRACE_SECONDS (30) to finish: a Celery worker whose shutdown hung on a lock
    # once held the whole command open after Ctrl+C. Past the grace it is killed; its work resumes (leases).
    # Every job of this subshell, not only "$child": a TERM that lands between starting the command and noting its
    # pid, or during the back-off's sleep, is met the same way.
    stop_child() {
      local grace=${STOP_GRACE_SECONDS:-30}
      kill -TERM $(jobs -pr) 2>/dev/null || true
      for _ in $(seq 1 $(( grace * 4 ))); do
        [ -z "$(jobs -pr)" ] && break
        sleep 0.25
      done
      if [ -n "$(jobs -pr)" ]; then
        echo "bin/start: $name did not stop within ${grace}s; killing it" >&2
        for pid in $(jobs -pr); do
          pkill -KILL -P "$pid" 2>/dev/null || true
          kill -KILL "$pid" 2>/dev/null || true
        done
      fi
      wait 2>/dev/null
      exit 0
    }
    trap stop_child TERM INT
    delay=1
    while true; do
      started=$SECONDS
      "$@" &
      child=$!
      wait "$child" && status=0 || status=$?
      if (( SECONDS - started >= 60 )); then delay=1; fi
      echo "bin/start: $name exited with status $status; restarting it in ${delay}s" >&2
      sleep "$delay" &
      wait $! || true
      delay=$(( delay * 2 > 60 ? 60 : delay * 2 ))
    done
  ) &
  pids+=($!)
}

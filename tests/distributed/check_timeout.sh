#!/usr/bin/env bash
# A hung rank must make the others fail with reel::distributed's timeout error, and the job
# end, well within the bound; never a silent hang.
#   check_timeout.sh MPIEXEC HANG_BINARY MODE EXPECTED_TEXT [mpirun options...]
set -uo pipefail
mpiexec=$1 binary=$2 mode=$3 expected=$4
shift 4
bound=60  # the hung rank sleeps 120 s; the timeout is 3 s
start=$SECONDS
out=$(timeout --kill-after=5 "$bound" "$mpiexec" "$@" "$binary" "$mode" 2>&1)
rc=$?
elapsed=$((SECONDS - start))
printf '%s\n' "$out"
echo "check_timeout: mpirun exit $rc after $elapsed s"
if ((rc == 124 || rc == 137)); then
  echo "check_timeout: FAILED: the job hung past $bound s" >&2
  exit 1
fi
if ((rc == 0)); then
  echo "check_timeout: FAILED: the job exited 0; the waiting ranks should have failed" >&2
  exit 1
fi
if ! grep -q "caught after .*$expected" <<<"$out"; then
  echo "check_timeout: FAILED: no rank reported the expected error ('$expected')" >&2
  exit 1
fi
echo "check_timeout: passed"

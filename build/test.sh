#!/usr/bin/env bash
# Runs every test: the xunit suites (core, CLI) and the Pester suite (cmdlets), after doing all the set-up a fresh
# clone needs (local dotnet tools incl. PowerShell, NuGet restore incl. Pester, the module build, the module packages
# that the Install-PSResource round trip installs).
# Prints a closing line "N passed, N failed" covering both, and exits non-zero if anything failed or nothing ran.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

set -e
dotnet tool restore >/dev/null
bash build/build-module.sh
bash build/pack-module.sh --no-build
dotnet build QuantShell.sln -c Release --nologo -v quiet
set +e

log="$(mktemp)"
trx="$(mktemp -d)"
trap 'rm -rf "$log" "$trx"' EXIT
dotnet test QuantShell.sln -c Release --no-build --nologo --logger trx --results-directory "$trx" 2>&1 | tee "$log"
xunit_status=${PIPESTATUS[0]}
# A test that cannot run here (no root to mount, no other user, no strace) is skipped with its reason: print them all.
for file in "$trx"/*.trx; do
    [ -e "$file" ] || continue
    awk '/<UnitTestResult /{ name = ""; if ($0 ~ /outcome="NotExecuted"/ && match($0, /testName="[^"]*"/)) name = substr($0, RSTART + 10, RLENGTH - 11) }
         /<Message>/ && name != "" { m = $0; sub(/.*<Message>/, "", m); sub(/<\/Message>.*/, "", m); print "skipped: " name ": " m; name = "" }' "$file" |
        sed -e "s/&apos;/'/g" -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
done
# "Passed!  - Failed:     0, Passed:   324, Skipped:     0, Total:   324, ..." one line per test assembly
summaries=$(grep -E '^(Passed|Failed)!' "$log")
xunit_passed=$(printf '%s\n' "$summaries" | grep -E . | sed -E 's/.*Passed: *([0-9]+).*/\1/' | awk '{s+=$1} END {print s+0}')
xunit_failed=$(printf '%s\n' "$summaries" | grep -E . | sed -E 's/.*Failed: *([0-9]+),.*/\1/' | awk '{s+=$1} END {print s+0}')
xunit_skipped=$(printf '%s\n' "$summaries" | grep -E . | sed -E 's/.*Skipped: *([0-9]+),.*/\1/' | awk '{s+=$1} END {print s+0}')
if [ "$xunit_status" -ne 0 ] && [ "$xunit_failed" -eq 0 ]; then xunit_failed=1; fi
# Every test assembly must report: one that crashed or ran nothing would otherwise go unnoticed.
expected_assemblies=$(ls tests/*/*.Tests.csproj | wc -l)
reported_assemblies=$(printf '%s\n' "$summaries" | grep -cE '^(Passed|Failed)!')
if [ "$reported_assemblies" -ne "$expected_assemblies" ]; then
    echo "test.sh: $reported_assemblies of $expected_assemblies xunit test assemblies reported a summary" >&2
    xunit_failed=$((xunit_failed + expected_assemblies - reported_assemblies))
fi

dotnet pwsh -NoProfile -NonInteractive -File tests/pester/run-pester.ps1 2>&1 | tee "$log"
pester_status=${PIPESTATUS[0]}
pester_passed=$(grep -E '^Pester: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | sed -E 's/^Pester: ([0-9]+) passed.*/\1/')
pester_failed=$(grep -E '^Pester: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | sed -E 's/.* ([0-9]+) failed.*/\1/')
pester_skipped=$(grep -E '^Pester: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$log" | tail -1 | sed -E 's/.* ([0-9]+) skipped.*/\1/')
pester_passed=${pester_passed:-0}
pester_skipped=${pester_skipped:-0}
pester_failed=${pester_failed:-0}
if [ "$pester_status" -ne 0 ] && [ "$pester_failed" -eq 0 ]; then pester_failed=1; fi

passed=$((xunit_passed + pester_passed))
failed=$((xunit_failed + pester_failed))
echo "xunit: ${xunit_passed} passed, ${xunit_failed} failed, ${xunit_skipped} skipped (${reported_assemblies} assemblies); Pester: ${pester_passed} passed, ${pester_failed} failed, ${pester_skipped} skipped"
echo "${passed} passed, ${failed} failed"
if [ "$failed" -ne 0 ] || [ "$xunit_passed" -eq 0 ] || [ "$pester_passed" -eq 0 ]; then exit 1; fi

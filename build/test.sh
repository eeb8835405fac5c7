#!/usr/bin/env bash
# Runs every test: the xunit suites (core, Tensor path, CLI, ONNX) and the Pester suite (cmdlets), after doing all the
# set-up a fresh clone needs (local dotnet tools incl. PowerShell, NuGet restore incl. Pester, the module build, the
# module packages that the Install-PSResource round trip installs).
# Each test assembly and each Pester file listed below must report results: one that crashed, ran no test or is missing
# counts as a failure, and so does a test project or Pester file in the repository that is not listed. Every skipped
# test is printed with its reason ("skipped: Test: reason"), then the counts per suite, then a closing line
# "N passed, N failed, N skipped"; the exit status is non-zero if anything failed or nothing ran.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# What must run: the test assemblies (tests/NAME/NAME.csproj) and the Pester files (tests/pester/NAME.Tests.ps1).
xunit_assemblies=(QuantShell.Core.Tests QuantShell.Torch.Tests QuantShell.Cli.Tests QuantShell.Onnx.Tests QuantShell.OnnxRuntime.Tests)
pester_files=(ConvertTo-StandardOnnx Export-InferableQuantizer Faults Help HostileInput Import-InferableQuantizer Invoke-Calibrate
              Invoke-Quantize Lut Measure-Quantization ModelFiles ModelFolders ModuleNotBuilt New-InferableQuantizer Package Parity
              QuantShell.Module Readme StopProcessing)

set -e
dotnet tool restore >/dev/null
bash build/build-module.sh
bash build/pack-module.sh --no-build
dotnet build QuantShell.sln -c Release --nologo -v quiet
set +e

problems=()
# The lists above against the repository: a suite added without being listed would otherwise never be required.
listed_xunit=$(printf '%s\n' "${xunit_assemblies[@]}" | sort)
found_xunit=$(for project in tests/*/*.Tests.csproj; do basename "$project" .csproj; done | sort)
listed_pester=$(printf '%s\n' "${pester_files[@]}" | sort)
found_pester=$(for file in tests/pester/*.Tests.ps1; do basename "$file" .Tests.ps1; done | sort)
for name in $(comm -13 <(echo "$listed_xunit") <(echo "$found_xunit")); do problems+=("test project $name is not in build/test.sh's list"); done
for name in $(comm -13 <(echo "$listed_pester") <(echo "$found_pester")); do problems+=("tests/pester/$name.Tests.ps1 is not in build/test.sh's list"); done

log="$(mktemp)"
trx="$(mktemp -d)"
skips="$(mktemp)"
trap 'rm -rf "$log" "$trx" "$skips"' EXIT
# One test assembly after the other (-m:1): the signal tests wait for a process to react, and beside the Core assembly's
# load two of them timed out in CI (they pass alone).
dotnet test QuantShell.sln -c Release --no-build --nologo -m:1 --logger trx --results-directory "$trx" 2>&1 | tee "$log"
xunit_status=${PIPESTATUS[0]}
# A test that cannot run here (no root to mount, no other user, no strace, no AVX2) is skipped with its reason.
for file in "$trx"/*.trx; do
    [ -e "$file" ] || continue
    awk '/<UnitTestResult /{ name = ""; if ($0 ~ /outcome="NotExecuted"/ && match($0, /testName="[^"]*"/)) name = substr($0, RSTART + 10, RLENGTH - 11) }
         /<Message>/ && name != "" { m = $0; sub(/.*<Message>/, "", m); sub(/<\/Message>.*/, "", m); print "skipped: " name ": " m; name = "" }' "$file" |
        sed -e "s/&apos;/'/g" -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g' >>"$skips"
done
# One line per test assembly: "Passed!  - Failed:     0, Passed:   324, Skipped:     0, Total:   324, Duration: 1 m - QuantShell.Core.Tests.dll (net10.0)"
xunit_passed=0 xunit_failed=0 xunit_skipped=0 xunit_reported=0
for name in "${xunit_assemblies[@]}"; do
    line=$(grep -E "^(Passed|Failed)! .* - ${name//./\\.}\.dll " "$log" | tail -1)
    if [ -z "$line" ]; then problems+=("$name reported no results (missing, not built, or its test host crashed)"); continue; fi
    passed=$(sed -E 's/.*Passed: *([0-9]+),.*/\1/' <<<"$line")
    failed=$(sed -E 's/.*Failed: *([0-9]+),.*/\1/' <<<"$line")
    skipped=$(sed -E 's/.*Skipped: *([0-9]+),.*/\1/' <<<"$line")
    if [ $((passed + failed + skipped)) -eq 0 ]; then problems+=("$name ran no test"); continue; fi
    xunit_passed=$((xunit_passed + passed)) xunit_failed=$((xunit_failed + failed)) xunit_skipped=$((xunit_skipped + skipped))
    xunit_reported=$((xunit_reported + 1))
done
if [ "$xunit_status" -ne 0 ] && [ "$xunit_failed" -eq 0 ] && [ ${#problems[@]} -eq 0 ]; then problems+=("dotnet test exited $xunit_status with no failed test"); fi

dotnet pwsh -NoProfile -NonInteractive -File tests/pester/run-pester.ps1 2>&1 | tee "$log"
pester_status=${PIPESTATUS[0]}
grep -E '^skipped: ' "$log" >>"$skips"
# run-pester.ps1 prints "Pester file: NAME.Tests.ps1: N passed, N failed, N skipped (Result)" per file, then its totals.
pester_passed=0 pester_failed=0 pester_skipped=0 pester_reported=0
for name in "${pester_files[@]}"; do
    line=$(grep -F "Pester file: $name.Tests.ps1: " "$log" | tail -1)
    if [ -z "$line" ]; then problems+=("tests/pester/$name.Tests.ps1 reported no results (missing, or Pester did not run it)"); continue; fi
    read -r passed failed skipped < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/' <<<"$line")
    # A file that failed to load or whose BeforeAll broke reports no failed test but the result Failed.
    if [[ "$line" == *"(Failed)" ]] && [ "$failed" -eq 0 ]; then failed=1; fi
    if [ $((passed + failed + skipped)) -eq 0 ]; then problems+=("tests/pester/$name.Tests.ps1 ran no test"); continue; fi
    pester_passed=$((pester_passed + passed)) pester_failed=$((pester_failed + failed)) pester_skipped=$((pester_skipped + skipped))
    pester_reported=$((pester_reported + 1))
done
if [ "$pester_status" -ne 0 ] && [ "$pester_failed" -eq 0 ] && [ ${#problems[@]} -eq 0 ]; then problems+=("run-pester.ps1 exited $pester_status with no failed test"); fi

echo
echo "== summary"
cat "$skips"
for problem in "${problems[@]}"; do echo "test.sh: $problem"; done
passed=$((xunit_passed + pester_passed))
failed=$((xunit_failed + pester_failed + ${#problems[@]}))
skipped=$((xunit_skipped + pester_skipped))
echo "xunit: ${xunit_passed} passed, ${xunit_failed} failed, ${xunit_skipped} skipped (${xunit_reported} of ${#xunit_assemblies[@]} assemblies);" \
     "Pester: ${pester_passed} passed, ${pester_failed} failed, ${pester_skipped} skipped (${pester_reported} of ${#pester_files[@]} files)"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$failed" -ne 0 ] || [ "$xunit_passed" -eq 0 ] || [ "$pester_passed" -eq 0 ]; then exit 1; fi

#!/usr/bin/env bash
# checkov over template.yaml: the infrastructure's security checks (encryption, network,
# IAM, logging), run by `make test` next to cfn-lint. Also on its own:
#   bash local/checkov.sh
#
# Every finding is either fixed in the template or skipped next to its resource with the
# reason (`Metadata: checkov: skip: - id: CKV_... comment: ...`), so the run is clean and
# every exception is explained. It passes only when checkov read the template (no parsing
# error, as many resources as the template has), found 0 failed checks, and every skip has
# a comment. checkov is installed by local/install-tools.sh at the version pinned in
# local/env.sh (KEYGATE_CHECKOV_VERSION); when it cannot be, the check cannot run: that
# fails the run under CI=true and is reported loudly elsewhere (local/lib.sh, not_run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
log_prefix="keygate: checkov"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$root"

checkov="$(checkov_venv)/bin/checkov"
if ! "$checkov" --version >/dev/null 2>&1; then
  bash "$here/install-tools.sh" checkov
fi
if ! "$checkov" --version >/dev/null 2>&1; then
  not_run "checkov over template.yaml (checkov $KEYGATE_CHECKOV_VERSION could not be installed)" \
    "python3 with venv and pip (Debian: apt-get install python3-venv), then bash local/install-tools.sh checkov"
  exit 0
fi

template=template.yaml
expected="$(awk '/^Resources:/ { r = 1; next } /^[^ #]/ { r = 0 } r && /^    Type: / { n++ } END { print n + 0 }' "$template")"
mkdir -p "$KEYGATE_RUN_DIR"
out="$KEYGATE_RUN_DIR/checkov.json"
# --skip-download: no call to the vendor's platform (this machine reaches none, and the
# checks need none of it).
status=0
"$checkov" --file "$template" --framework cloudformation --skip-download --output json \
  >"$out" 2>"$KEYGATE_RUN_DIR/checkov.err" || status=$?
if [ "$status" -gt 1 ] || ! [ -s "$out" ]; then
  tail -20 "$KEYGATE_RUN_DIR/checkov.err" >&2
  die "checkov itself failed (exit $status; its output: $out)"
fi

python3 - "$out" "$template" "$expected" <<'PY'
import json
import sys

out, template, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(out, encoding="utf-8") as f:
    report = json.load(f)
if isinstance(report, list):  # one report per framework; only cloudformation was asked for
    report = next((r for r in report if r.get("check_type") == "cloudformation"), {})
summary = report.get("summary", report)
results = report.get("results", {})
failed = results.get("failed_checks", [])
skipped = results.get("skipped_checks", [])
problems = []
for check in failed:
    lines = check.get("file_line_range", [])
    where = f"{template}:{lines[0]}-{lines[1]}" if len(lines) == 2 else template
    print(f"checkov: FAILED {check['check_id']} {check['resource']} ({where}): {check['check_name']}",
          file=sys.stderr)
if failed:
    problems.append(f"{len(failed)} failed checks: fix each in {template}, or skip it next to its "
                    "resource with the reason (Metadata: checkov: skip: - id: ... comment: ...)")
unexplained = [s for s in skipped
               if s.get("check_result", {}).get("suppress_comment", "No comment provided")
               in ("", "No comment provided")]
for check in unexplained:
    print(f"checkov: skipped without a comment: {check['check_id']} {check['resource']}", file=sys.stderr)
if unexplained:
    problems.append(f"{len(unexplained)} skips without a comment: say why next to each")
if summary.get("parsing_errors", 0):
    problems.append(f"checkov could not parse {template} ({summary['parsing_errors']} parsing errors)")
if summary.get("resource_count", 0) != expected or not summary.get("passed", 0):
    problems.append(f"checkov read {summary.get('resource_count', 0)} resources and passed "
                    f"{summary.get('passed', 0)} checks, but {template} has {expected} resources: "
                    "it did not check the whole template")
print(f"checkov: {summary.get('checkov_version', '?')} over {template}: "
      f"{summary.get('resource_count', 0)} resources, {summary.get('passed', 0)} passed, "
      f"{summary.get('failed', 0)} failed, {summary.get('skipped', 0)} skipped "
      f"(each skip with its reason next to the resource)", file=sys.stderr)
if problems:
    sys.exit("checkov: error: " + "; ".join(problems))
PY

#!/usr/bin/env bash
# Run the odoo_addon_relance tests inside a real Odoo 18 on the local PostgreSQL.
#
#   tests/odoo_addon_relance/run_odoo_tests.sh /path/to/odoo   (the folder holding odoo-bin)
#
# Each run uses a fresh database, dropped at the end.  Environment:
#   ODOO_PYTHON            Odoo's Python (default: ../venv/bin/python beside the source, else python3)
#   RELANCE_ODOO_TEMPLATE  a database to copy (e.g. one with account + l10n_fr_account installed);
#                          without it, a database is initialised with account,l10n_fr_account
#   PGHOST PGPORT PGUSER   the server (default 127.0.0.1, 5432, the current user)
#   ODOO_EXTRA_ADDONS      more addons folders, comma-separated (e.g. where `sms` lives)
# Exit code: 0 when every test passed, 1 otherwise.
set -euo pipefail

ODOO_PATH=${1:?usage: run_odoo_tests.sh /path/to/odoo (the folder holding odoo-bin)}
ODOO_PATH=$(cd "$ODOO_PATH" && pwd)
if [ ! -x "$ODOO_PATH/odoo-bin" ] && [ ! -f "$ODOO_PATH/odoo-bin" ]; then
    echo "no odoo-bin in $ODOO_PATH" >&2
    exit 2
fi
REPO=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${ODOO_PYTHON:-}" ]; then
    if [ -x "$ODOO_PATH/../venv/bin/python" ]; then ODOO_PYTHON="$ODOO_PATH/../venv/bin/python"
    else ODOO_PYTHON=python3; fi
fi
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-$(id -un)}
DB="relance_test_$(date +%Y%m%d%H%M%S)_$$"
LOG=$(mktemp -t relance_odoo_tests.XXXXXX.log)
ADDONS="$ODOO_PATH/addons,$ODOO_PATH/odoo/addons,$REPO${ODOO_EXTRA_ADDONS:+,$ODOO_EXTRA_ADDONS}"
# core/ is imported by the addon from this checkout.
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

odoo() {
    "$ODOO_PYTHON" "$ODOO_PATH/odoo-bin" --addons-path="$ADDONS" -d "$DB" \
        --db_host="$PGHOST" --db_port="$PGPORT" --db_user="$PGUSER" \
        --no-http --stop-after-init "$@"
}

cleanup() {
    psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [ -n "${RELANCE_ODOO_TEMPLATE:-}" ]; then
    echo "== copying $RELANCE_ODOO_TEMPLATE into $DB"
    psql -q -d postgres -c "CREATE DATABASE \"$DB\" TEMPLATE \"$RELANCE_ODOO_TEMPLATE\""
else
    echo "== initialising $DB with account, l10n_fr_account"
    odoo -i account,l10n_fr_account --log-level=warn
fi

echo "== installing odoo_addon_relance and running its tests (log: $LOG)"
status=0
odoo -i odoo_addon_relance --test-enable --test-tags=/odoo_addon_relance 2>&1 | tee "$LOG" \
    || status=$?

summary=$(grep -E "odoo.tests.result: .* failed, .* error" "$LOG" | tail -1 || true)
if [ -z "$summary" ]; then
    echo "FAILED: no test summary in the log (install failed?)" >&2
    exit 1
fi
echo "== ${summary#*odoo.tests.result: }"
# Errors logged during the install and the tests; the test HTTP server may log a
# request cut by the shutdown after the summary, which says nothing of the addon.
before_summary=$(sed -n '/odoo.tests.result: /q;p' "$LOG")
if [ "$status" -ne 0 ] || ! grep -qE "result: 0 failed, 0 error" <<<"$summary" \
    || grep -qE " (ERROR|CRITICAL) " <<<"$before_summary"; then
    echo "FAILED" >&2
    exit 1
fi
echo "OK"

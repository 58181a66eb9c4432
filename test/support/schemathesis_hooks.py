"""Schemathesis hooks for the ingress's document (SCHEMATHESIS_HOOKS=schemathesis_hooks, see schemathesis.ts).

`runAt` of POST /v1/jobs must lie in a window around now (at most 60 s past, at most JOB_MAX_DELAY_MS
ahead; further is 400, as the field's description says). JSON Schema cannot state a bound relative to
the clock, so the tool would draw times such as 2000-01-01 as valid data and take the 400 for a finding.
Every well-formed `runAt` it draws is moved to a minute from now; malformed ones (and every other field)
are left as drawn, so the negative cases stay what they were.
"""

import re
from datetime import datetime, timedelta, timezone

import schemathesis

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@schemathesis.hook
def map_case(ctx, case):
    body = case.body
    if case.method.upper() == "POST" and case.path == "/v1/jobs" and isinstance(body, dict):
        run_at = body.get("runAt")
        if isinstance(run_at, str) and RFC3339.match(run_at):
            body["runAt"] = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return case

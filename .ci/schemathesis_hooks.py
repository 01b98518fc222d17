"""Hooks for the contract run (.ci/schemathesis.sh).

Idempotency keys: the generator reuses values across requests, and a key
sent again with the same body rightly replays the first answer, even when a
later step has deleted what that first request created. Stateful checks then
report the replay's resource as "created but not found". A real client sends
a fresh key per intended request, so every well-formed generated key is made
unique here; negative cases are left alone for the rejection checks.
"""

import itertools
import re

import schemathesis

_WELL_FORMED = re.compile(r"^[!-~]{1,240}$")
_counter = itertools.count(1)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # Only positive cases: editing a header revalidates the case, which
    # would turn a case built to omit a header (Authorization) positive and
    # send that header after all.
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and _WELL_FORMED.match(key):
        case.headers["Idempotency-Key"] = f"{key}~{next(_counter)}"

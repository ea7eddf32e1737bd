"""schemathesis checks of Faena's own, loaded through SCHEMATHESIS_HOOKS.

`write_needs_permission`: an unsafe request that succeeded (2xx) must have
been allowed for the caller. The operation's OpenAPI `security` names the
permission it needs (`bearer: [perm]`), `bearer: []` any signed-in caller,
`{}` anyone; FAENA_ATTACK_PATTERNS holds the caller's permission patterns
(JSON, from /api/auth/me; absent for an anonymous run).
"""

import ast
import json
import os
import threading

import schemathesis

# CPython 3.11 keeps the AST constructor's recursion counter in one place
# for the whole interpreter: two threads inside `ast.parse` at once (the
# runner's workers, when hypothesis describes a strategy's lambdas) can
# corrupt it, and the parse fails with "AST constructor recursion depth
# mismatch" (python/cpython#106905), reported as a Runtime Error against
# whichever operation was running. One parse at a time.
_parse = ast.parse
_parse_lock = threading.Lock()


def _serialized_parse(*args, **kwargs):
    with _parse_lock:
        return _parse(*args, **kwargs)


ast.parse = _serialized_parse

ROLE = os.environ.get("FAENA_ATTACK_ROLE", "anonymous")
PATTERNS = json.loads(os.environ.get("FAENA_ATTACK_PATTERNS", "null"))
SAFE = {"GET", "HEAD", "OPTIONS"}


def pattern_matches(pattern: str, permission: str) -> bool:
    """The same rule as `auth::pattern_matches`: `*` alone grants all; else
    segment by segment, `*` standing for one segment."""
    if pattern == "*":
        return True
    wanted = permission.split(".")
    given = pattern.split(".")
    return len(wanted) == len(given) and all(g in ("*", w) for g, w in zip(given, wanted))


def allowed(security) -> bool:
    if not security:
        return False  # no declared access: nothing is reachable by omission
    requirement = security[0]
    if requirement == {}:
        return True
    if PATTERNS is None:
        return False
    scopes = requirement.get("bearer", [])
    if not scopes:
        return True
    return any(pattern_matches(p, scopes[0]) for p in PATTERNS)


@schemathesis.check
def write_needs_permission(ctx, response, case):
    if case.method.upper() in SAFE or not 200 <= response.status_code < 300:
        return None
    security = case.operation.definition.raw.get("security")
    if not allowed(security):
        raise AssertionError(
            f"{ROLE} succeeded ({response.status_code}) at {case.method.upper()} {case.path}, "
            f"which needs {security}"
        )
    return None

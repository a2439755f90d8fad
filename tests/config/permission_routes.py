"""Operations and sign-in routes in the permission matrix (see tests/permission_matrix.py).

The matrix's client calls from 127.0.0.1, so /metrics answers everyone there;
tests/config/test_operations.py covers refusal of remote callers and the token.
SSO is off in the test settings, so its pages are 404 for everyone;
tests/registry/test_sso.py covers them switched on against a real provider.
"""

from tests.permission_matrix import Route, statuses

ROUTES = [
    Route("healthz", "GET", statuses(200)),
    Route("metrics", "GET", statuses(200)),
    Route("oidc_authentication_init", "GET", statuses(404)),
    Route("oidc_authentication_callback", "GET", statuses(404)),
    # Signing out works with or without SSO and sends everyone to the sign-in page.
    Route("oidc_logout", "POST", statuses(302)),
]
COMMANDS = ["export_audit_checkpoint", "verify_audit_checkpoint"]

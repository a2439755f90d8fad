"""Sign-ins, failed sign-ins, sign-outs and refused requests go to the audit trail.

Django's auth signals are used here on purpose, although the project writes
no business logic in signals: these events are raised inside Django's own
machinery (the login view, the admin's login, the SSO callback, any backend),
where no service of ours runs, and the signals are the documented hook that
sees all of them. They only record; they change nothing else.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from registry import audit, lockout
from registry.choices import AuditEventType

# Beyond this many characters an attempted username is noise, not a name.
MAX_ATTEMPTED_USERNAME = 150


def _request_facts(request) -> dict:
    if request is None:
        return {}
    return {"ip": lockout.client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200]}


def on_logged_in(sender, request, user, **kwargs):
    if user is None or not user.pk:
        return
    lockout.clear(user.get_username())
    backend = getattr(user, "backend", "") or ""
    audit.record(
        AuditEventType.AUTH_LOGIN,
        actor=user,
        target=user,
        after={"method": "sso" if backend.endswith("SsoBackend") else "password", **_request_facts(request)},
    )


def on_login_failed(sender, credentials, request=None, **kwargs):
    user_model = get_user_model()
    username = str(credentials.get("username") or "")[:MAX_ATTEMPTED_USERNAME]
    locked = bool(username) and lockout.is_locked(username, lockout.client_ip(request))
    if username and not locked:
        lockout.register_failure(username, lockout.client_ip(request))
    target = user_model.objects.filter(username__iexact=username).first() if username else None
    if target is None:
        # Nobody by that name: an unsaved stand-in names the attempt without creating anyone.
        target = user_model(username=username or "(no username)")
    audit.record(
        AuditEventType.AUTH_LOGIN_FAILED,
        actor=None,
        target=target,
        target_repr=target.username,
        after={
            "username": username,
            "method": "password" if username else "sso",
            "locked_out": locked,
            **_request_facts(request),
        },
    )


def on_logged_out(sender, request, user, **kwargs):
    if user is None or not user.pk:
        return
    audit.record(AuditEventType.AUTH_LOGOUT, actor=user, target=user, after=_request_facts(request))


def record_refusal(request, status_code: int) -> None:
    """A signed-in user was refused (403): who, what and where."""
    user = request.user
    audit.record(
        AuditEventType.AUTH_REFUSED,
        actor=user,
        target=user,
        after={"method": request.method, "path": request.path[:300], "status": status_code, **_request_facts(request)},
    )


def connect() -> None:
    user_logged_in.connect(on_logged_in, dispatch_uid="registry.audit_login")
    user_login_failed.connect(on_login_failed, dispatch_uid="registry.audit_login_failed")
    user_logged_out.connect(on_logged_out, dispatch_uid="registry.audit_logout")

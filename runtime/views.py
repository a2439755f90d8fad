"""Runtime pages: the gateway credentials (administrators mint and revoke; the board reads)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from runtime import services
from runtime.models import GatewayCredential
from telemetry.models import TelemetrySource


@login_required
@require_http_methods(["GET", "POST"])
def credentials(request):
    """List gateway credentials; POST mints one (shown once) or revokes one (``revoke``: its id)."""
    user = request.user
    rows = GatewayCredential.objects.for_user(user).select_related("source")
    if not (user.has_perm("runtime.view_gatewaycredential")):
        raise PermissionDenied("Gateway credentials are for administrators and the governance board.")
    new_credential = None
    errors = {}
    if request.method == "POST":
        if not user.has_perm("runtime.add_gatewaycredential"):
            raise PermissionDenied("Only administrators manage gateway credentials.")
        if "revoke" in request.POST:
            credential = get_object_or_404(rows, pk=_int(request.POST["revoke"]))
            services.revoke_gateway_credential(credential, actor=user)
            messages.success(request, f"{credential.name} ({credential.prefix}…) is revoked on every server.")
            return redirect("runtime:credentials")
        source = TelemetrySource.objects.filter(pk=_int(request.POST.get("source")), active=True).first()
        if source is None:
            errors["source"] = "Choose the gateway's telemetry source."
        else:
            try:
                _credential, new_credential = services.create_gateway_credential(
                    source, actor=user, name=request.POST.get("name", "")
                )
            except ValidationError as exc:
                errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    return render(
        request,
        "runtime/credentials.html",
        {
            "nav": "credentials",
            "credentials": rows,
            "sources": TelemetrySource.objects.filter(active=True).order_by("name"),
            "new_credential": new_credential,
            "errors": errors,
            "can_manage": user.has_perm("runtime.add_gatewaycredential"),
        },
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0

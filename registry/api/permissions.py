"""API permission classes that refuse a write before its body is validated.

Scope still comes from ``for_user`` (a row outside it is a 404 from
``get_object``); these only turn "visible but not yours to change" into a 403
up front, so a refused caller never learns about validation rules first.
"""

from rest_framework import permissions


class GlobalModelWritePermission(permissions.IsAuthenticated):
    """Reference data (business units, tools): writes need the model's global add/change permission."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.method in permissions.SAFE_METHODS or view.action != "create":
            return True
        opts = view.get_queryset().model._meta
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        opts = obj._meta
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

"""The SCIM 2.0 service provider (RFC 7643/7644) at ``/scim/v2/``: the company directory provisions people
and groups here.

The protocol is not written by hand: ``scim2-models`` (pydantic models of RFC 7643/7644) validates every
request body in its SCIM context (creation, replacement, patch), applies PATCH operations to the current
resource, and serialises responses, list responses and errors; ``scim2-filter-parser`` turns the
``filter`` parameter into a Django ``Q``. This module only maps the directory's resources to the
registry's rows and calls ``registry.services`` for every write, so the rules (deprovisioning,
roles from groups, the audit trail) are the same as everywhere else.

Authentication: ``Authorization: Bearer scim_…``, a SCIM token (``ScimToken``) that works here and nowhere
else; personal API tokens and sessions are refused here.
"""

import json
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError as PydanticValidationError
from scim2_filter_parser.parser import SCIMParserError
from scim2_filter_parser.transpilers.django_q_object import get_query
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    Email,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    GroupMember,
    ListResponse,
    Manager,
    Meta,
    Name,
    Patch,
    PatchOp,
    ResourceType,
    Schema,
    SCIMException,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

from registry import services
from registry.models import DirectoryEntry, DirectoryGroup
from registry.models import User as Account

SCIM_CONTENT_TYPE = "application/scim+json"
MAX_RESULTS = 200
UserResource = User[EnterpriseUser]

# Tolerant where identity providers are known to stray without ambiguity (Microsoft Entra's PATCH habits,
# attributes we do not keep); strict everywhere else.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
)
PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, Group],
    resource_types=[ResourceType.from_resource(UserResource), ResourceType.from_resource(Group)],
    config=ServiceProviderConfig(
        documentation_uri="https://example.invalid/docs/scim.md",
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="SCIM bearer token",
                description="A token an administrator creates for the identity provider; it works on /scim/v2/ only.",
                primary=True,
            )
        ],
    ),
    policy=POLICY,
)

USER_FILTERS = {
    ("userName", None, None): "username",
    ("externalId", None, None): "directory__external_id",
    ("id", None, None): "directory__scim_id",
}
GROUP_FILTERS = {
    ("displayName", None, None): "display_name",
    ("externalId", None, None): "external_id",
    ("id", None, None): "scim_id",
}


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _respond(payload: dict | None, status: int = 200, location: str | None = None) -> HttpResponse:
    response = HttpResponse(
        b"" if payload is None else json.dumps(payload), status=status, content_type=SCIM_CONTENT_TYPE
    )
    if location:
        response["Location"] = location
    return response


def _error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return _respond(body, status)


def _base(request) -> str:
    return request.build_absolute_uri("/scim/v2")


def _body(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise ScimError(400, "The body is not valid JSON.", "invalidSyntax") from exc
    if not isinstance(data, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    if _holds_nul(data):
        # PostgreSQL cannot store or compare text holding NUL: refused here, named, not a 500 later.
        raise ScimError(400, "Strings may not contain NUL characters.", "invalidValue")
    return data


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


def scim_endpoint(view):
    """Authenticate the SCIM token, run the view with the library's policy, and turn every refusal into a
    SCIM Error document (never an HTML page or a 500 for bad input)."""

    @csrf_exempt
    def wrapper(request, *args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or services.authenticate_scim_token(raw.strip()) is None:
            response = _error(401, "A valid SCIM bearer token is required.")
            response["WWW-Authenticate"] = 'Bearer realm="scim"'
            return response
        try:
            with PROVIDER:
                return view(request, *args, **kwargs)
        except ScimError as exc:
            return _error(exc.status, exc.detail, exc.scim_type)
        except SCIMException as exc:
            error = exc.to_error()
            return _respond(error.model_dump(), int(error.status or 400))
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            return _error(400, f"{first.get('msg')}: {where}", "invalidValue")
        except ValidationError as exc:
            text = _validation_message(exc)
            unique = "taken" in text or "already" in text or "exists" in text or "Another" in text
            return _error(409 if unique else 400, text, "uniqueness" if unique else "invalidValue")
        except PermissionDenied as exc:
            return _error(403, str(exc) or "Refused.")

    return wrapper


MAX_START_INDEX = 2**31


def _paging(request) -> tuple[int, int]:
    try:
        # Bounded: an OFFSET past PostgreSQL's bigint is an error, and no directory is that large.
        start = min(max(int(request.GET.get("startIndex", 1)), 1), MAX_START_INDEX)
        count = min(max(int(request.GET.get("count", 100)), 0), MAX_RESULTS)
    except ValueError as exc:
        raise ScimError(400, "startIndex and count must be integers.", "invalidValue") from exc
    return start, count


def _filtered(request, queryset, attrs):
    text = (request.GET.get("filter") or "").strip()
    if not text:
        return queryset
    try:
        query = get_query(text, attrs)
    except SCIMParserError as exc:
        raise ScimError(400, f"The filter could not be read: {text}", "invalidFilter") from exc
    if query is None:
        supported = ", ".join(name for name, _, _ in attrs)
        raise ScimError(400, f"Filter on one of: {supported}.", "invalidFilter")
    return queryset.filter(query)


def _list(request, queryset, attrs, to_resource, model):
    start, count = _paging(request)
    queryset = _filtered(request, queryset, attrs)
    total = queryset.count()
    page = list(queryset[start - 1 : start - 1 + count]) if count else []
    resources = [to_resource(request, row) for row in page]
    listing = ListResponse[model](
        total_results=total, start_index=start, items_per_page=len(resources), resources=resources
    )
    return _respond(listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE))


# --- Users ------------------------------------------------------------------------------------------


def _user_queryset():
    # Only people the directory provisioned are SCIM resources; local accounts stay out of its reach.
    return Account.objects.filter(directory__isnull=False).select_related("directory").order_by("pk")


def user_resource(request, user: Account) -> UserResource:
    entry = user.directory
    base = _base(request)
    extension = EnterpriseUser(
        employee_number=entry.employee_number or None,
        department=entry.department or None,
        manager=Manager(value=entry.manager_scim_id, ref=f"{base}/Users/{entry.manager_scim_id}")
        if entry.manager_scim_id
        else None,
    )
    resource = UserResource(
        id=str(entry.scim_id),
        external_id=entry.external_id or None,
        user_name=user.username,
        name=Name(given_name=user.first_name or None, family_name=user.last_name or None),
        display_name=user.get_full_name() or user.username,
        title=user.job_title or None,
        active=user.is_active,
        emails=[Email(value=user.email, primary=True, type="work")] if user.email else None,
        meta=Meta(resource_type="User", location=f"{base}/Users/{entry.scim_id}", last_modified=entry.updated_at),
    )
    resource[EnterpriseUser] = extension
    return resource


def _user_facts(resource: UserResource) -> dict:
    """The registry's facts from a validated User resource (creation, replacement or patched copy)."""
    email = ""
    if resource.emails:
        primary = next((e for e in resource.emails if e.primary), resource.emails[0])
        email = primary.value or ""
    extension = resource[EnterpriseUser] or EnterpriseUser()
    name = resource.name or Name()
    return {
        "username": resource.user_name,
        "first_name": name.given_name or "",
        "last_name": name.family_name or "",
        "email": email,
        "job_title": resource.title or "",
        "external_id": resource.external_id or "",
        "department": extension.department or "",
        "employee_number": extension.employee_number or "",
        "manager_scim_id": (extension.manager.value if extension.manager else "") or "",
    }


def _get_user(scim_id: str) -> Account:
    try:
        key = uuid.UUID(scim_id)
    except ValueError as exc:
        raise ScimError(404, f"No user {scim_id}.") from exc
    user = _user_queryset().filter(directory__scim_id=key).first()
    if user is None:
        raise ScimError(404, f"No user {scim_id}.")
    return user


def _sync(user: Account, resource: UserResource) -> Account:
    facts = _user_facts(resource)
    return services.sync_directory_user(
        user, actor=None, active=resource.active if resource.active is not None else None, **facts
    )


@scim_endpoint
def users(request):
    if request.method == "GET":
        return _list(request, _user_queryset(), USER_FILTERS, user_resource, UserResource)
    if request.method != "POST":
        raise ScimError(405, "Use GET or POST.")
    resource = UserResource.model_validate(_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    user = services.provision_user(actor=None, active=resource.active is not False, **_user_facts(resource))
    user = _user_queryset().get(pk=user.pk)
    body = user_resource(request, user)
    return _respond(body.model_dump(scim_ctx=Context.RESOURCE_CREATION_RESPONSE), 201, location=body.meta.location)


@scim_endpoint
def user_detail(request, scim_id):
    user = _get_user(scim_id)
    if request.method == "GET":
        return _respond(user_resource(request, user).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    if request.method == "PUT":
        resource = UserResource.model_validate(_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
        user = _sync(user, resource)
    elif request.method == "PATCH":
        patch = PatchOp[UserResource].model_validate(_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        resource = user_resource(request, user)
        if patch.patch(resource):
            user = _sync(user, resource)
    elif request.method == "DELETE":
        # Nothing is deleted: the person is deprovisioned and the name stays in the trail.
        with transaction.atomic():
            services.deprovision_user(user, actor=None)
        return _respond(None, 204)
    else:
        raise ScimError(405, "Use GET, PUT, PATCH or DELETE.")
    user = _user_queryset().get(pk=user.pk)
    return _respond(user_resource(request, user).model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_RESPONSE))


# --- Groups -----------------------------------------------------------------------------------------


def _group_queryset():
    return DirectoryGroup.objects.prefetch_related("members__directory").order_by("pk")


def group_resource(request, group: DirectoryGroup) -> Group:
    base = _base(request)
    members = [
        GroupMember(
            value=str(member.directory.scim_id),
            ref=f"{base}/Users/{member.directory.scim_id}",
            type="User",
            display=str(member),
        )
        for member in group.members.all()
        if hasattr(member, "directory")
    ]
    return Group(
        id=str(group.scim_id),
        external_id=group.external_id or None,
        display_name=group.display_name,
        members=members or None,
        meta=Meta(resource_type="Group", location=f"{base}/Groups/{group.scim_id}", last_modified=group.updated_at),
    )


def _members(resource: Group) -> list[Account]:
    ids = []
    for member in resource.members or []:
        try:
            ids.append(uuid.UUID(str(member.value)))
        except ValueError as exc:
            raise ScimError(400, f"No user {member.value}.", "invalidValue") from exc
    found = list(Account.objects.filter(directory__scim_id__in=ids))
    if len(found) != len(set(ids)):
        known = {str(u) for u in DirectoryEntry.objects.filter(scim_id__in=ids).values_list("scim_id", flat=True)}
        missing = sorted(str(i) for i in ids if str(i) not in known)
        raise ScimError(400, f"Unknown members: {', '.join(missing)}.", "invalidValue")
    return found


def _get_group(scim_id: str) -> DirectoryGroup:
    try:
        key = uuid.UUID(scim_id)
    except ValueError as exc:
        raise ScimError(404, f"No group {scim_id}.") from exc
    group = _group_queryset().filter(scim_id=key).first()
    if group is None:
        raise ScimError(404, f"No group {scim_id}.")
    return group


@scim_endpoint
def groups(request):
    if request.method == "GET":
        return _list(request, _group_queryset(), GROUP_FILTERS, group_resource, Group)
    if request.method != "POST":
        raise ScimError(405, "Use GET or POST.")
    resource = Group.model_validate(_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    group = services.save_directory_group(
        None,
        actor=None,
        display_name=resource.display_name or "",
        external_id=resource.external_id or "",
        members=_members(resource),
    )
    body = group_resource(request, _get_group(str(group.scim_id)))
    return _respond(body.model_dump(scim_ctx=Context.RESOURCE_CREATION_RESPONSE), 201, location=body.meta.location)


@scim_endpoint
def group_detail(request, scim_id):
    group = _get_group(scim_id)
    if request.method == "GET":
        return _respond(group_resource(request, group).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    if request.method == "DELETE":
        services.delete_directory_group(group, actor=None)
        return _respond(None, 204)
    if request.method == "PUT":
        resource = Group.model_validate(_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    elif request.method == "PATCH":
        patch = PatchOp[Group].model_validate(_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        resource = group_resource(request, group)
        patch.patch(resource)
    else:
        raise ScimError(405, "Use GET, PUT, PATCH or DELETE.")
    services.save_directory_group(
        group,
        actor=None,
        display_name=resource.display_name or group.display_name,
        external_id=resource.external_id or "",
        members=_members(resource),
    )
    body = group_resource(request, _get_group(scim_id))
    return _respond(body.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_RESPONSE))


# --- Discovery --------------------------------------------------------------------------------------


def _with_location(request, item, endpoint: str, name: str):
    item.meta = Meta(resource_type=type(item).__name__, location=f"{_base(request)}/{endpoint}/{name}")
    return item


@scim_endpoint
def service_provider_config(request):
    config = PROVIDER.config.model_copy()
    config.meta = Meta(resource_type="ServiceProviderConfig", location=f"{_base(request)}/ServiceProviderConfig")
    return _respond(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def _discovery_list(request, items, endpoint, key, model):
    items = [_with_location(request, item.model_copy(), endpoint, key(item)) for item in items]
    listing = ListResponse[model](total_results=len(items), start_index=1, items_per_page=len(items), resources=items)
    return _respond(listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE))


def _discovery_item(request, items, endpoint, key, wanted):
    for item in items:
        if key(item) == wanted:
            item = _with_location(request, item.model_copy(), endpoint, key(item))
            return _respond(item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise ScimError(404, f"No {endpoint} {wanted}.")


@scim_endpoint
def resource_types(request, name=None):
    key = lambda item: str(item.id or item.name)  # noqa: E731
    if name:
        return _discovery_item(request, PROVIDER.resource_types, "ResourceTypes", key, name)
    return _discovery_list(request, PROVIDER.resource_types, "ResourceTypes", key, ResourceType)


@scim_endpoint
def schemas(request, schema_id=None):
    key = lambda item: str(item.id)  # noqa: E731
    if schema_id:
        return _discovery_item(request, PROVIDER.schemas, "Schemas", key, schema_id)
    return _discovery_list(request, PROVIDER.schemas, "Schemas", key, Schema)


urlpatterns = [
    path("Users", users, name="scim-users"),
    path("Users/<str:scim_id>", user_detail, name="scim-user"),
    path("Groups", groups, name="scim-groups"),
    path("Groups/<str:scim_id>", group_detail, name="scim-group"),
    path("ServiceProviderConfig", service_provider_config, name="scim-config"),
    path("ResourceTypes", resource_types, name="scim-resource-types"),
    path("ResourceTypes/<str:name>", resource_types, name="scim-resource-type"),
    path("Schemas", schemas, name="scim-schemas"),
    path("Schemas/<str:schema_id>", schemas, name="scim-schema"),
]

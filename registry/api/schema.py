"""OpenAPI schema post-processing: document the error answers every operation can give.

drf-spectacular lists only success responses. Clients (and schemathesis,
which checks every status code against the schema) need the errors too; they
all share one JSON shape from registry.api.exceptions: ``{"detail": "..."}``
or field name -> list of messages.
"""

ERROR_SCHEMA = {
    "type": "object",
    "description": '{"detail": "message"}, or field name -> list of messages for a 400.',
    "additionalProperties": True,
}
ERRORS_FOR_EVERY_OPERATION = {
    "400": "The request or one of its fields is invalid (see the field's messages).",
    "401": "No valid credentials were sent.",
    "403": "You may not do this (your role or rights on this object).",
    "404": "Not found, or outside what you may see (also: a page number past the end).",
}
ERRORS_FOR_WRITES = {
    "409": "Someone else changed the object since you read it (row_version); read it again.",
    "413": "The request body is too large.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    reference = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(ERRORS_FOR_EVERY_OPERATION)
            if method in WRITE_METHODS:
                errors.update(ERRORS_FOR_WRITES)
            for code, description in errors.items():
                operation["responses"].setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": reference}}}
                )
    return result

"""Fields shared by every app's serializers."""

from rest_framework import serializers


class LookupField(serializers.SlugRelatedField):
    """A related object named by its key, slug or username: the one lookup field of the API.

    Every writable reference to another row goes through this field, so bad
    references are refused the same way everywhere, as a 400 on the field:
    a value that is not text, one holding a NUL character (PostgreSQL cannot
    compare such text: without this check the lookup would be a server error),
    or one that names nothing the caller may see.
    """

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "null_characters": "Null characters are not allowed.",
        "invalid": "Give the {slug_name} as text.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid", slug_name=self.slug_field)
        if isinstance(data, str) and "\x00" in data:
            self.fail("null_characters")
        return super().to_internal_value(data)

"""Walk every URL pattern of the project and build a URL for it from the test objects at hand."""

import re

from django.urls import URLPattern, URLResolver, get_resolver

# Django's admin and the raw schema endpoints are not our pages.
SKIPPED_PREFIXES = ("admin/",)


def walk(patterns=None, prefix: str = ""):
    """Yield (route string, URLPattern) for every pattern, routes joined from their resolvers."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
REGEX_PARAM = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


def concrete_url(route: str, values: dict) -> str | None:
    """The route with its parameters filled from ``values`` (by name), or None if one cannot be filled."""
    if "format" in route:
        return None  # ".json" suffix variants answer exactly as the plain route does
    route = route.replace("^", "").replace("$", "")
    missing = []

    def fill(match):
        name = match.group("name")
        if name not in values:
            missing.append(name)
            return ""
        return str(values[name])

    url = REGEX_PARAM.sub(fill, route)
    url = PARAM.sub(fill, url)
    url = url.replace("/?", "/").replace("?", "")
    if missing or any(ch in url for ch in "()[]*+\\"):
        return None
    return "/" + url


def page_urls(values: dict) -> list[str]:
    urls = []
    for route, _pattern in walk():
        if route.startswith(SKIPPED_PREFIXES):
            continue
        url = concrete_url(route, values)
        if url is not None and url not in urls:
            urls.append(url)
    return urls

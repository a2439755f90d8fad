"""A2A Agent Cards: reading both spec versions, checking their signatures, fetching them safely.

An Agent Card is the JSON document an A2A agent publishes about itself (usually at
``/.well-known/agent-card.json``). Two shapes are in use:

- A2A 1.0: ``supportedInterfaces[]`` (url, protocolBinding, protocolVersion) names the endpoints;
- A2A 0.3: ``url`` with ``preferredTransport``, ``additionalInterfaces[]`` and ``protocolVersion``.

Both carry ``name``, ``description``, ``version``, ``provider``, ``capabilities``, ``skills[]``,
``securitySchemes`` and optionally ``signatures[]``: detached JWS (RFC 7515) over the RFC 8785
canonical JSON of the card without ``signatures`` (empty strings, lists and objects dropped, as the
A2A SDK's signer does).
"""

import base64
import json
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
import rfc8785
from django.conf import settings
from django.core.exceptions import ValidationError
from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from registry import address_guard

# Asymmetric algorithms only: a shared secret cannot prove who published a card.
ALLOWED_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"]
MAX_SKILLS = 200


class SignatureStatus:
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    INVALID = "invalid"


@dataclass
class ParsedCard:
    """What the registry takes from a card, whichever spec version it follows."""

    spec_version: str  # "1.0" or "0.3"
    name: str
    description: str
    version: str
    provider: str
    endpoint_url: str
    interfaces: list[dict]
    skills: list[dict]
    security_schemes: list[str]
    raw: dict = field(repr=False)


def _error(message: str) -> ValidationError:
    return ValidationError({"card": message})


def parse_card(data) -> ParsedCard:
    """Read a card of A2A 1.0 or 0.3. Refuses what is not a card, naming what is missing."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise _error(f"The agent card is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise _error("An agent card is a JSON object.")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _error("The agent card has no name.")
    interfaces: list[dict] = []
    if isinstance(data.get("supportedInterfaces"), list):
        spec_version = "1.0"
        for item in data["supportedInterfaces"]:
            if isinstance(item, dict) and isinstance(item.get("url"), str):
                interfaces.append(
                    {
                        "url": item["url"],
                        "binding": str(item.get("protocolBinding", "")),
                        "protocol_version": str(item.get("protocolVersion", "")),
                    }
                )
    elif isinstance(data.get("url"), str):
        spec_version = "0.3"
        interfaces.append(
            {
                "url": data["url"],
                "binding": str(data.get("preferredTransport", "JSONRPC")),
                "protocol_version": str(data.get("protocolVersion", "")),
            }
        )
        for item in data.get("additionalInterfaces") or []:
            if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"] != data["url"]:
                interfaces.append(
                    {
                        "url": item["url"],
                        "binding": str(item.get("transport", "")),
                        "protocol_version": str(data.get("protocolVersion", "")),
                    }
                )
    else:
        raise _error("The agent card names no endpoint (supportedInterfaces in A2A 1.0, url in 0.3).")
    if not interfaces:
        raise _error("The agent card names no endpoint.")
    skills = []
    for item in (data.get("skills") or [])[:MAX_SKILLS]:
        if not isinstance(item, dict):
            continue
        skills.append(
            {
                "id": str(item.get("id", "")),
                "name": str(item.get("name", "")),
                "description": str(item.get("description", "")),
                "tags": sorted(str(t) for t in item.get("tags") or []),
            }
        )
    provider = data.get("provider") if isinstance(data.get("provider"), dict) else {}
    schemes = data.get("securitySchemes") if isinstance(data.get("securitySchemes"), dict) else {}
    return ParsedCard(
        spec_version=spec_version,
        name=name.strip()[:150],
        description=str(data.get("description", ""))[:4000],
        version=str(data.get("version", ""))[:80],
        provider=str(provider.get("organization", ""))[:200],
        endpoint_url=interfaces[0]["url"][:500],
        interfaces=interfaces,
        skills=skills,
        security_schemes=sorted(schemes),
        raw=data,
    )


# --- Signatures ----------------------------------------------------------------------


def _drop_empty(value):
    """Empty strings, lists and objects left out, as the A2A SDK does before canonicalising."""
    if isinstance(value, dict):
        cleaned = {k: c for k, v in value.items() if (c := _drop_empty(v)) is not None}
        return cleaned or None
    if isinstance(value, list):
        cleaned = [c for v in value if (c := _drop_empty(v)) is not None]
        return cleaned or None
    if isinstance(value, str) and not value:
        return None
    return value


def canonical_payload(card: dict) -> bytes:
    """The bytes a card's signatures cover: RFC 8785 JSON of the card without ``signatures``."""
    body = {k: v for k, v in card.items() if k != "signatures"}
    return rfc8785.dumps(_drop_empty(body) or {})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_json(segment: str) -> dict:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(value, dict):
        raise ValueError("header is not an object")
    return value


def verify_signatures(card: dict, trusted_keys: dict[str, dict]) -> tuple[str, str]:
    """(status, kid): ``verified`` when a signature checks out against a trusted key,
    ``unverified`` when the card is unsigned or signed only with keys nobody trusts,
    ``invalid`` when a signature made with a trusted key does not match the card (tampered).

    ``trusted_keys`` maps key ids to public JWKs the administrators trust for the card's provider.
    """
    signatures = card.get("signatures") or []
    if not signatures:
        return SignatureStatus.UNVERIFIED, ""
    payload = _b64url(canonical_payload(card))
    tried_trusted = False
    for signature in signatures:
        if not isinstance(signature, dict):
            continue
        protected = str(signature.get("protected", ""))
        try:
            header = _b64url_json(protected)
        except (ValueError, UnicodeDecodeError):
            continue
        kid = str(header.get("kid", ""))
        key_data = trusted_keys.get(kid)
        if key_data is None:
            continue
        tried_trusted = True
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            continue
        try:
            token = jws.JWS()
            token.deserialize(f"{protected}.{payload}.{signature.get('signature', '')}")
            token.verify(jwk.JWK(**key_data), alg=header["alg"])
        except (JWException, ValueError, TypeError):
            continue
        return SignatureStatus.VERIFIED, kid
    return (SignatureStatus.INVALID if tried_trusted else SignatureStatus.UNVERIFIED), ""


# --- Fetching a card from its URL ------------------------------------------------------


def check_url(url: str) -> tuple[str, str, int]:
    """The (scheme, host, port) of a card URL the registry may fetch, or a field error saying why not
    (the shared guard of :mod:`registry.address_guard`, with the card settings)."""
    return address_guard.card_policy().check_url(url)


def fetch_card(url: str) -> dict:
    """Fetch a card: allow-listed hosts only, no private addresses, short timeouts, a size limit,
    and redirects only within the same host (each hop checked again)."""
    timeout = httpx.Timeout(settings.AGENT_CARD_FETCH_TIMEOUT_SECONDS)
    limit = settings.AGENT_CARD_MAX_BYTES
    _scheme, host, _port = check_url(url)
    with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        for _hop in range(4):
            try:
                with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        target_host = (urlsplit(target).hostname or "").lower()
                        if target_host != host.lower():
                            raise ValidationError(
                                {"url": f"The card's address redirects to another host ({target_host}); refused."}
                            )
                        check_url(target)
                        url = target
                        continue
                    if response.status_code != 200:
                        raise ValidationError({"url": f"The card's address answered {response.status_code}."})
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise ValidationError({"url": f"The card is larger than {limit} bytes; refused."})
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > limit:
                            raise ValidationError({"url": f"The card is larger than {limit} bytes; refused."})
            except httpx.TimeoutException as exc:
                raise ValidationError({"url": "The card's address did not answer in time."}) from exc
            except httpx.HTTPError as exc:
                raise ValidationError({"url": f"The card could not be fetched: {exc.__class__.__name__}."}) from exc
            try:
                data = json.loads(bytes(body))
            except ValueError as exc:
                raise ValidationError({"url": "The address did not return a JSON agent card."}) from exc
            if not isinstance(data, dict):
                raise ValidationError({"url": "The address did not return a JSON agent card."})
            return data
    raise ValidationError({"url": "Too many redirects."})

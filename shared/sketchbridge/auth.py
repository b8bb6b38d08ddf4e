"""Verify the JWTs that API Gateway's JWT authorizer would accept.

The HTTP API checks tokens itself; a WebSocket API cannot use a JWT authorizer,
so ``$connect`` verifies the token here with the same rules: signature by a key
from ``<issuer>/.well-known/jwks.json`` (Cognito and the local dev issuer both
publish there), the issuer, expiry, and the audience in ``aud`` or, for Cognito
access tokens, ``client_id``.
"""

from __future__ import annotations

from typing import Any

import jwt
from jwt.types import Options

from sketchbridge.domain import clock
from sketchbridge.domain.errors import UnauthorizedError


def decode_options(*, require: list[str]) -> Options:
    """PyJWT's options with its time checks off: it would judge exp/nbf/iat by the machine's
    own clock; ``check_token_times`` judges them by the one clock the rest of the product
    reads (sketchbridge.domain.clock), so that pinning it pins them too."""
    return {
        "verify_aud": False,
        "require": require,
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
    }


class JwksTokenVerifier:
    def __init__(self, issuer: str, audience: str) -> None:
        self._issuer = issuer.rstrip("/")
        self._audience = audience
        # PyJWKClient caches the key set, so one cold start fetches it once.
        self._keys = jwt.PyJWKClient(f"{self._issuer}/.well-known/jwks.json", timeout=5)

    def verify(self, token: str) -> dict[str, Any]:
        try:
            signing_key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],
                issuer=self._issuer,
                options=decode_options(require=["exp", "iss", "sub"]),
            )
            check_token_times(claims, now=clock.epoch_seconds())
        except jwt.PyJWTError as exc:
            raise UnauthorizedError("The access token is not valid.") from exc
        if self._audience and self._audience not in _audiences(claims):
            raise UnauthorizedError("The access token is for another application.")
        return claims


def check_token_times(claims: dict[str, Any], *, now: float) -> None:
    """Raise ``jwt.InvalidTokenError`` unless ``now`` lies in the token's lifetime."""
    try:
        expires = float(claims["exp"])
        not_before = float(claims.get("nbf", claims.get("iat", expires - 1)))
    except (KeyError, TypeError, ValueError) as exc:
        raise jwt.InvalidTokenError("the token's times are not numbers") from exc
    if now >= expires:
        raise jwt.ExpiredSignatureError("the token has expired")
    if now < not_before:
        raise jwt.ImmatureSignatureError("the token is not valid yet")


def _audiences(claims: dict[str, Any]) -> set[str]:
    audience = claims.get("aud")
    found = set(audience) if isinstance(audience, list) else {audience} if audience else set()
    if claims.get("client_id"):
        found.add(str(claims["client_id"]))
    return {str(item) for item in found}

"""A dev JWT issuer that stands in for Cognito: RS256 tokens, a JWKS, verification.

The key pair is generated when the issuer is created and lives only in memory, so tokens from
one run of the stack are worthless in the next. Tokens carry the claims a Cognito user pool
puts in its ID and access tokens, so handlers read them exactly as they would on AWS.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from sketchbridge.auth import check_token_times, decode_options
from sketchbridge.domain import clock

DEV_AUDIENCE = "sketchbridge-local"
TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600
_ALGORITHM = "RS256"

TokenUse = Literal["id", "access"]


def issuer_url(port: int) -> str:
    """Where the local gateway serves the dev issuer; `/.well-known/jwks.json` is below it."""
    return f"http://127.0.0.1:{port}/dev-issuer"


@dataclass
class DevIssuer:
    """Mints and verifies tokens for `issuer`; `audience` plays the Cognito app client id."""

    issuer: str
    audience: str = DEV_AUDIENCE
    _private_key: rsa.RSAPrivateKey = field(init=False, repr=False)
    _key_id: str = field(init=False)

    def __post_init__(self) -> None:
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._key_id = uuid.uuid4().hex

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set, as Cognito publishes it at `<issuer>/.well-known/jwks.json`."""
        public_jwk = RSAAlgorithm.to_jwk(self._private_key.public_key(), as_dict=True)
        return {
            "keys": [
                {
                    "alg": _ALGORITHM,
                    "e": public_jwk["e"],
                    "kid": self._key_id,
                    "kty": "RSA",
                    "n": public_jwk["n"],
                    "use": "sig",
                }
            ]
        }

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_url,
            "id_token_signing_alg_values_supported": [_ALGORITHM],
            "subject_types_supported": ["public"],
            "response_types_supported": ["code", "token"],
        }

    def mint(
        self,
        sub: str,
        *,
        email: str | None = None,
        token_use: TokenUse = "id",
        lifetime_seconds: int = TOKEN_LIFETIME_SECONDS,
        scopes: tuple[str, ...] = ("aws.cognito.signin.user.admin",),
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """An RS256 token for `sub`, shaped like a Cognito ID token (or access token).

        As with Cognito, an ID token names the client in `aud` and carries the email; an
        access token names it in `client_id` instead and carries the scopes.
        """
        now = int(clock.epoch_seconds())
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "token_use": token_use,
            "auth_time": now,
            "iat": now,
            "exp": now + lifetime_seconds,
            "jti": str(uuid.uuid4()),
            "origin_jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
        }
        if token_use == "id":
            claims |= {
                "aud": self.audience,
                "cognito:username": sub,
                "email": email or f"{sub}@example.com",
                "email_verified": True,
            }
        else:
            claims |= {"client_id": self.audience, "username": sub, "scope": " ".join(scopes)}
        claims |= extra_claims or {}
        return jwt.encode(
            claims, self._private_key, algorithm=_ALGORITHM, headers={"kid": self._key_id}
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, checked as API Gateway's JWT authorizer checks them.

        Signature, `kid`, `iss`, `exp`/`nbf`/`iat`, and the audience: `aud`, or `client_id`
        when there is no `aud` (Cognito access tokens). Raises `jwt.InvalidTokenError`.
        """
        header = jwt.get_unverified_header(token)
        if header.get("kid") != self._key_id:
            raise jwt.InvalidTokenError("the token was not signed by this issuer's key")
        claims: dict[str, Any] = jwt.decode(
            token,
            self._private_key.public_key(),
            algorithms=[_ALGORITHM],
            issuer=self.issuer,
            options=decode_options(require=["exp", "iat", "iss", "sub"]),
        )
        check_token_times(claims, now=clock.epoch_seconds())
        audience = claims.get("aud", claims.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        if self.audience not in audiences:
            raise jwt.InvalidAudienceError("the token is not meant for this audience")
        return claims

"""The local API Gateway's AWS_IAM authorizer: verify a request's Signature Version 4.

API Gateway answers 403 ``{"message": "Forbidden"}`` to a request on an ``AWS_IAM`` route that
is unsigned or wrongly signed; the local stack does the same against its own dummy admin
credentials (``.local/stack.json`` → ``admin_credentials``). The signature is recomputed with
botocore's own ``SigV4Auth`` canonicalisation (service ``execute-api``), so what the CLI or any
AWS SDK signs verifies here exactly as it would on AWS. Checked, in order: the header's shape,
the access key id, the credential scope (date, region, service), the request's date within
±5 minutes of ``sketchbridge.domain.clock``, the body's hash, then the signature itself,
compared in constant time.

How to use::

    credentials = AdminCredentials.generate()
    refusal = verify(SignedRequest(method, raw_path, raw_query, headers, body), credentials)
    if refusal is not None:  # why, for the log; the caller answers 403
        ...
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from sketchbridge.domain import clock

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
# How far a request's date may be from the gateway's clock (AWS allows 5 minutes either way).
MAX_CLOCK_SKEW = timedelta(minutes=5)
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+"
    r"Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


@dataclass(frozen=True)
class AdminCredentials:
    """The one key pair the local stack's admin routes accept."""

    access_key_id: str
    secret_access_key: str
    region: str

    @classmethod
    def generate(cls, region: str) -> AdminCredentials:
        """Fresh dummy credentials: a key that no other stack (and no AWS account) knows."""
        return cls(
            access_key_id="AKIALOCAL" + secrets.token_hex(6).upper(),
            secret_access_key=secrets.token_urlsafe(30),
            region=region,
        )

    def as_dict(self) -> dict[str, str]:
        return {
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "region": self.region,
        }


@dataclass(frozen=True)
class SignedRequest:
    """A request as the gateway received it: the raw path and query, every header, the body."""

    method: str
    host: str
    raw_path: str
    raw_query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    scheme: str = "http"


class _ReceivedSigV4Auth(SigV4Auth):
    """botocore's canonicalisation over exactly the headers the signer says it signed."""

    def __init__(self, credentials: Credentials, region: str, signed: HTTPHeaders) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed


def verify(request: SignedRequest, credentials: AdminCredentials) -> str | None:
    """None when ``request`` carries a valid signature by ``credentials``, else why not."""
    headers = [(name.lower(), value) for name, value in request.headers]
    authorization = _header(headers, "authorization")
    if authorization is None:
        return "no Authorization header"
    parsed = _AUTHORIZATION.match(authorization.strip())
    if parsed is None:
        return "the Authorization header is not an AWS4-HMAC-SHA256 signature"
    scope = parsed["credential"].split("/")
    if len(scope) != 5:
        return "the credential scope is malformed"
    access_key_id, day, region, service, terminator = scope
    if not hmac.compare_digest(access_key_id.encode(), credentials.access_key_id.encode()):
        return "unknown access key id"
    if region != credentials.region or service != SERVICE or terminator != "aws4_request":
        return f"the credential scope {day}/{region}/{service} is not this API's"
    amz_date = _header(headers, "x-amz-date")
    if amz_date is None:
        return "no X-Amz-Date header"
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        return "X-Amz-Date is not a SigV4 timestamp"
    if day != amz_date[:8]:
        return "the credential scope's date is not the request's"
    if abs(clock.utc_now() - signed_at) > MAX_CLOCK_SKEW:
        return "the signature's date is more than 5 minutes from now"
    signed_names = parsed["signed_headers"].split(";")
    if "host" not in signed_names or "x-amz-date" not in signed_names:
        return "the signature must cover host and x-amz-date"
    signed = HTTPHeaders()
    for name in signed_names:
        values = [value for header, value in headers if header == name]
        if not values:
            return f"the signed header {name} is missing"
        for value in values:
            signed[name] = value
    body_hash = hashlib.sha256(request.body).hexdigest()
    declared_hash = _header(headers, "x-amz-content-sha256")
    if declared_hash is not None and declared_hash != body_hash:
        # An unsigned payload (or a hash of some other body) would let the body be changed.
        return "X-Amz-Content-SHA256 is not the body's hash"
    url = f"{request.scheme}://{request.host}{request.raw_path}"
    if request.raw_query_string:
        url += f"?{request.raw_query_string}"
    # No X-Amz-Content-SHA256 here: botocore then hashes the body it is given.
    unsigned = AWSRequest(method=request.method.upper(), url=url, data=request.body)
    unsigned.context["timestamp"] = amz_date
    auth = _ReceivedSigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_access_key),
        credentials.region,
        signed,
    )
    canonical = auth.canonical_request(unsigned)
    expected = auth.signature(auth.string_to_sign(unsigned, canonical), unsigned)
    if not hmac.compare_digest(expected.encode(), parsed["signature"].encode()):
        return "the signature does not match"
    return None


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((value for header, value in headers if header == name), None)

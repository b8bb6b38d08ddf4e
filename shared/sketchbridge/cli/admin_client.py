"""Signing the admin API's requests (``/admin/*``) with SigV4, as API Gateway's AWS_IAM
authorizer wants.

With the local stack's dummy admin key from ``.local/stack.json`` (``admin_credentials``)
when talking to the local stack, else with the credentials of the standard AWS chain
(environment, profile, SSO, instance role). A user's token is never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sketchbridge.cli.endpoints import API_URL_ENV, find_stack_file, read_stack_file, same_url
from sketchbridge.cli.errors import ApiError, UsageError
from sketchbridge.cli.http import HttpSession, with_query

if TYPE_CHECKING:
    import httpx

SERVICE = "execute-api"


@dataclass(frozen=True)
class AdminEndpoint:
    api_url: str
    access_key_id: str
    secret_access_key: str
    region: str
    session_token: str | None = None


def resolve_admin_endpoint(
    *,
    api: str | None,
    region: str | None,
    stack_file: str | None,
    environ: Mapping[str, str],
    cwd: Path,
) -> AdminEndpoint:
    """Where to send admin requests and what to sign them with.

    The local stack (no --api, or --api naming it): its dummy admin key. A deployed API:
    the standard AWS credential chain and region.
    """
    api = api or environ.get(API_URL_ENV)
    path = find_stack_file(stack_file, environ=environ, cwd=cwd)
    stack = read_stack_file(path) if path is not None else None
    if stack is not None and (not api or same_url(api, stack["api_url"])):
        local = stack.get("admin_credentials")
        if not isinstance(local, dict) or not all(
            isinstance(local.get(key), str)
            for key in ("access_key_id", "secret_access_key", "region")
        ):
            raise UsageError(
                f"The stack file {path} lists no admin_credentials.",
                suggestions=["Restart the local stack (`make run`) so that it writes them."],
            )
        return AdminEndpoint(
            api_url=stack["api_url"],
            access_key_id=local["access_key_id"],
            secret_access_key=local["secret_access_key"],
            region=region or local["region"],
        )
    if not api:
        raise UsageError(
            "No API to talk to: no --api given and no local stack found (.local/stack.json).",
            suggestions=[
                "Start the local stack with `make run`, or pass --api URL of a deployed API."
            ],
        )
    return _from_aws_chain(api, region)


def _from_aws_chain(api: str, region: str | None) -> AdminEndpoint:
    import botocore.session

    session = botocore.session.Session()
    credentials = session.get_credentials()
    region = region or session.get_config_variable("region")
    if credentials is None:
        raise UsageError(
            "No AWS credentials found to sign the admin request with.",
            suggestions=["Configure them as for the AWS CLI (aws configure, AWS_PROFILE, SSO)."],
        )
    if not region:
        raise UsageError(
            "No AWS region to sign for.", suggestions=["Pass --region or set AWS_REGION."]
        )
    frozen = credentials.get_frozen_credentials()
    return AdminEndpoint(
        api_url=api,
        access_key_id=frozen.access_key,
        secret_access_key=frozen.secret_key,
        session_token=frozen.token,
        region=region,
    )


def signed_headers(
    endpoint: AdminEndpoint, method: str, url: str, body: bytes, headers: Mapping[str, str]
) -> dict[str, str]:
    """``headers`` plus the SigV4 ones (Authorization, X-Amz-Date, ...) for this request."""
    from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from sketchbridge.domain import clock

    class _ClockedSigV4Auth(SigV4Auth):  # type: ignore[misc]
        """botocore's SigV4, dated by Sketchbridge's one clock."""

        def add_auth(self, request: AWSRequest) -> None:
            request.context["timestamp"] = clock.utc_now().strftime(SIGV4_TIMESTAMP)
            self._modify_request_before_signing(request)
            canonical = self.canonical_request(request)
            signature = self.signature(self.string_to_sign(request, canonical), request)
            self._inject_signature_to_request(request, signature)

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    credentials = Credentials(
        endpoint.access_key_id, endpoint.secret_access_key, endpoint.session_token
    )
    _ClockedSigV4Auth(credentials, SERVICE, endpoint.region).add_auth(request)
    return dict(request.headers.items())


class AdminClient(HttpSession):
    """Signed calls to /admin/*; ``http`` lets a test hand in an ``httpx.Client``."""

    def __init__(self, endpoint: AdminEndpoint, *, http: httpx.Client | None = None) -> None:
        super().__init__(http)
        self.endpoint = endpoint

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
    ) -> Any:
        url = with_query(self.endpoint.api_url.rstrip("/") + path, query)
        try:
            answer = self.send(
                method,
                url,
                api_url=self.endpoint.api_url,
                body=body,
                sign=lambda *request: signed_headers(self.endpoint, *request),
            )
        except ApiError as error:
            if error.http_status == 403:
                error.suggestions = (
                    "The signature was refused: check the AWS credentials and region, and "
                    "that this principal may call execute-api:Invoke on the admin routes.",
                )
            raise
        return {} if answer is None else answer

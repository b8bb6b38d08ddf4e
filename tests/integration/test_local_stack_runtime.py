"""Handlers load like Lambda cold starts, and tokens look and verify like Cognito's."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from local.dev_jwt import DEV_AUDIENCE, DevIssuer
from local.lambda_runtime import LocalFunction
from local.provision import FunctionConfig

ISSUER = "http://127.0.0.1:3000/dev-issuer"


def _function(code_uri: Path, logical_id: str, *, timeout_seconds: int = 28) -> LocalFunction:
    return LocalFunction(
        FunctionConfig(
            logical_id=logical_id,
            name=f"sketchbridge-local-{logical_id}",
            arn=f"arn:aws:lambda:us-east-1:123456789012:function:sketchbridge-local-{logical_id}",
            code_uri=code_uri,
            handler="app.lambda_handler",
            timeout_seconds=timeout_seconds,
            memory_mb=1024,
            environment={},
        )
    )


def _write_handler(directory: Path, body: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "app.py").write_text(body)
    return directory


def test_functions_with_the_same_module_name_do_not_collide(tmp_path: Path) -> None:
    submit = _function(
        _write_handler(tmp_path / "submit", "def lambda_handler(e, c):\n    return 'submit'\n"),
        "SubmitFunction",
    )
    query = _function(
        _write_handler(tmp_path / "query", "def lambda_handler(e, c):\n    return 'query'\n"),
        "QueryFunction",
    )

    assert (submit.invoke({}), query.invoke({}), submit.invoke({})) == ("submit", "query", "submit")


def test_a_handler_is_imported_on_its_first_invocation_only(tmp_path: Path) -> None:
    marker = tmp_path / "imports.log"
    code = _write_handler(
        tmp_path / "fn",
        f"with open({str(marker)!r}, 'a') as log:\n    log.write('imported\\n')\n"
        "def lambda_handler(e, c):\n    return e\n",
    )
    function = _function(code, "ColdFunction")

    assert not marker.exists()
    function.invoke(1)
    function.invoke(2)
    assert marker.read_text() == "imported\n"


def test_the_context_carries_the_functions_names_and_time_budget(tmp_path: Path) -> None:
    code = _write_handler(
        tmp_path / "fn",
        "def lambda_handler(e, c):\n"
        "    return {'name': c.function_name, 'arn': c.invoked_function_arn,\n"
        "            'memory': c.memory_limit_in_mb, 'version': c.function_version,\n"
        "            'request': c.aws_request_id, 'group': c.log_group_name,\n"
        "            'left': c.get_remaining_time_in_millis()}\n",
    )

    seen = _function(code, "ProcessorFunction", timeout_seconds=120).invoke({})

    assert seen["name"] == "sketchbridge-local-ProcessorFunction"
    assert seen["arn"].endswith(":function:sketchbridge-local-ProcessorFunction")
    assert seen["memory"] == "1024"
    assert seen["version"] == "$LATEST"
    assert seen["request"]
    assert seen["group"] == "/aws/lambda/sketchbridge-local-ProcessorFunction"
    assert 0 < seen["left"] <= 120_000


def test_a_missing_handler_module_fails_the_invocation(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _function(tmp_path, "MissingFunction").invoke({})


def test_an_id_token_carries_cognito_claims_and_verifies() -> None:
    issuer = DevIssuer(ISSUER)

    claims = issuer.verify(issuer.mint("alice", email="alice@example.test"))

    assert claims["sub"] == "alice"
    assert claims["iss"] == ISSUER
    assert claims["aud"] == DEV_AUDIENCE
    assert claims["token_use"] == "id"
    assert claims["email"] == "alice@example.test"
    assert claims["exp"] - claims["iat"] == 30 * 24 * 3600


def test_an_access_token_names_the_client_instead_of_an_audience() -> None:
    issuer = DevIssuer(ISSUER)

    claims = issuer.verify(issuer.mint("alice", token_use="access"))

    assert "aud" not in claims
    assert claims["client_id"] == DEV_AUDIENCE
    assert claims["token_use"] == "access"


def test_the_published_key_verifies_tokens_with_plain_pyjwt() -> None:
    issuer = DevIssuer(ISSUER)
    token = issuer.mint("bob")
    (key,) = issuer.jwks()["keys"]

    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience=DEV_AUDIENCE,
        issuer=ISSUER,
    )

    assert claims["sub"] == "bob"
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]


@pytest.mark.parametrize(
    "token_from",
    [
        lambda issuer: DevIssuer(ISSUER).mint("mallory"),
        lambda issuer: DevIssuer(ISSUER, audience="someone-else").mint("mallory"),
        lambda issuer: issuer.mint("mallory", lifetime_seconds=-60),
    ],
    ids=["another-key", "another-audience", "expired"],
)
def test_verify_rejects_tokens_api_gateway_would_reject(token_from: object) -> None:
    issuer = DevIssuer(ISSUER)

    with pytest.raises(jwt.InvalidTokenError):
        issuer.verify(token_from(issuer))  # type: ignore[operator]

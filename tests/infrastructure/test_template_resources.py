"""What template.yaml promises to users and admins: queues that retry and park failures,
a private bucket that forgets, state that expires, and the names docs/architecture.md pins."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infrastructure

DOCUMENTED_FUNCTIONS = {
    "SubmitFunction": "functions/submit/",
    "QueryFunction": "functions/query/",
    "ProcessorFunction": "functions/processor/",
    "WebSocketFunction": "functions/websocket/",
    "OcrFunction": "functions/ocr/",
    "HealthFunction": "functions/health/",
    "DeadLetterFunction": "functions/deadletter/",
    "SweepFunction": "functions/sweep/",
    "AdminFunction": "functions/admin/",
}
# Runs the OCR model on its own runtime and dependencies, without the sketchbridge layers
# (docs/preprocessing.md); every other function runs sketchbridge on python3.11.
OCR_FUNCTION = "OcrFunction"
# Variables only the function that reads them gets: everything else is in Globals.
FUNCTION_SCOPED_VARIABLES = {
    "OCR_FUNCTION_NAME": {"SubmitFunction"},
    # Only the functions with the right to publish to the alerts topic learn its ARN.
    "ALERTS_TOPIC_ARN": {"SubmitFunction", "ProcessorFunction"},
}
DOCUMENTED_HTTP_ROUTES = {
    ("POST", "/generations"): "SubmitFunction",
    ("POST", "/uploads"): "SubmitFunction",
    ("POST", "/generations/{id}/cancel"): "SubmitFunction",
    ("GET", "/generations/{id}"): "QueryFunction",
    ("GET", "/providers"): "QueryFunction",
    ("POST", "/estimates"): "QueryFunction",
    ("GET", "/usage"): "QueryFunction",
    ("POST", "/ws-tickets"): "WebSocketFunction",
    # Issue 11's lifecycle: refine and lineage, history and deletion, preferences.
    ("POST", "/generations/{id}/refine"): "SubmitFunction",
    ("DELETE", "/generations/{id}"): "SubmitFunction",
    ("PUT", "/preferences"): "SubmitFunction",
    ("DELETE", "/preferences"): "SubmitFunction",
    ("GET", "/generations"): "QueryFunction",
    ("GET", "/generations/{id}/lineage"): "QueryFunction",
    ("GET", "/preferences"): "QueryFunction",
}
# Signed with SigV4 by an IAM principal (AWS_IAM), never opened by a user's JWT.
DOCUMENTED_ADMIN_ROUTES = {
    ("GET", "/admin/providers/{name}"): "AdminFunction",
    ("PUT", "/admin/providers/{name}"): "AdminFunction",
    ("GET", "/admin/usage"): "AdminFunction",
    ("GET", "/admin/budgets/{scope}"): "AdminFunction",
    ("PUT", "/admin/budgets/{scope}"): "AdminFunction",
    ("DELETE", "/admin/budgets/{scope}"): "AdminFunction",
    ("GET", "/admin/quotas/{sub}"): "AdminFunction",
    ("PUT", "/admin/quotas/{sub}"): "AdminFunction",
    ("DELETE", "/admin/quotas/{sub}"): "AdminFunction",
    ("GET", "/admin/health"): "AdminFunction",
}
DOCUMENTED_WEBSOCKET_ROUTES = {"$connect", "$disconnect", "subscribe"}
# Read by Powertools and the log setup, not by sketchbridge.settings, so the
# architecture table leaves them out.
RUNTIME_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}
# Read by a provider adapter's own Config.from_env, not by sketchbridge.settings.
PROVIDER_CONFIG_VARIABLES = {"BEDROCK_REGION"}
FOURTEEN_DAYS_SECONDS = 14 * 24 * 3600


def _documented_settings_variables(repo_root: Path) -> set[str]:
    """Variable names from the 'Environment variables' table in docs/architecture.md."""
    text = (repo_root / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("Environment variables", 1)[1].split("\nTables:", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("|"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def _effective(function: dict[str, Any], globals_: dict[str, Any], key: str) -> Any:
    return function["Properties"].get(key, globals_.get(key))


def _environment(function: dict[str, Any], globals_: dict[str, Any]) -> dict[str, Any]:
    shared = globals_.get("Environment", {}).get("Variables", {})
    own = function["Properties"].get("Environment", {}).get("Variables", {})
    return {**shared, **own}


def _policy_names(function: dict[str, Any]) -> set[str]:
    return {
        name
        for policy in function["Properties"].get("Policies", [])
        if isinstance(policy, dict)
        for name in policy
    }


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _grants_manage_connections(function: dict[str, Any]) -> bool:
    for policy in function["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = _actions(statement)
            if statement["Effect"] == "Allow" and "execute-api:ManageConnections" in actions:
                return True
    return False


# ---------------------------------------------------------------- queue


def test_queue_never_redelivers_a_job_while_the_processor_may_still_run(
    resources: dict[str, Any], function_globals: dict[str, Any]
) -> None:
    processor_timeout = _effective(resources["ProcessorFunction"], function_globals, "Timeout")
    visibility_timeout = resources["JobsQueue"]["Properties"]["VisibilityTimeout"]

    assert visibility_timeout >= 6 * processor_timeout


def test_a_job_that_keeps_failing_is_parked_in_the_dead_letter_queue_for_two_weeks(
    resources: dict[str, Any],
) -> None:
    redrive = resources["JobsQueue"]["Properties"]["RedrivePolicy"]

    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == 3
    dead_letters = resources["JobsDeadLetterQueue"]["Properties"]
    assert dead_letters["MessageRetentionPeriod"] == FOURTEEN_DAYS_SECONDS


def test_queues_encrypt_messages_at_rest(resources: dict[str, Any]) -> None:
    for name in ("JobsQueue", "JobsDeadLetterQueue"):
        assert resources[name]["Properties"].get("SqsManagedSseEnabled") is True, name


def test_processor_retries_only_the_failed_jobs_of_a_batch(resources: dict[str, Any]) -> None:
    events = resources["ProcessorFunction"]["Properties"]["Events"]
    sqs_events = [event["Properties"] for event in events.values() if event["Type"] == "SQS"]

    by_queue = {event["Queue"]["Fn::GetAtt"][0]: event for event in sqs_events}
    assert set(by_queue) == {"JobsQueue", "BatchQueue"}
    for sqs in by_queue.values():
        assert sqs["BatchSize"] == 5
        assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_batch_work_cannot_starve_interactive_work(resources: dict[str, Any]) -> None:
    events = resources["ProcessorFunction"]["Properties"]["Events"]
    caps = {
        event["Properties"]["Queue"]["Fn::GetAtt"][0]: event["Properties"]["ScalingConfig"][
            "MaximumConcurrency"
        ]
        for event in events.values()
        if event["Type"] == "SQS"
    }
    # Lambda's minimum MaximumConcurrency is 2; interactive must keep the larger share.
    assert caps["BatchQueue"] >= 2 and caps["JobsQueue"] > caps["BatchQueue"]


def test_processor_gives_up_on_a_job_exactly_when_the_queue_does(
    resources: dict[str, Any], function_globals: dict[str, Any]
) -> None:
    from sketchbridge.settings import Settings

    environment = _environment(resources["ProcessorFunction"], function_globals)
    fields = {field.alias: field for field in Settings.model_fields.values()}
    max_receive_count = int(
        environment.get("MAX_RECEIVE_COUNT", fields["MAX_RECEIVE_COUNT"].default)
    )

    assert (
        max_receive_count
        == resources["JobsQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    )


def test_a_running_job_keeps_its_lease_for_the_processors_whole_timeout(
    resources: dict[str, Any], function_globals: dict[str, Any]
) -> None:
    from sketchbridge.settings import Settings

    processor = resources["ProcessorFunction"]
    environment = _environment(processor, function_globals)
    fields = {field.alias: field for field in Settings.model_fields.values()}
    lease_seconds = int(environment.get("JOB_LEASE_SECONDS", fields["JOB_LEASE_SECONDS"].default))

    assert lease_seconds >= _effective(processor, function_globals, "Timeout")


# ---------------------------------------------------------------- bucket


def test_artifacts_bucket_blocks_every_kind_of_public_access(resources: dict[str, Any]) -> None:
    bucket = resources["ArtifactsBucket"]["Properties"]

    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_artifacts_are_encrypted_at_rest_and_in_transit(resources: dict[str, Any]) -> None:
    encryption = resources["ArtifactsBucket"]["Properties"]["BucketEncryption"]
    (rule,) = encryption["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}

    policy = resources["ArtifactsBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "ArtifactsBucket"}
    denials = [
        statement
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert denials, "the bucket policy must deny requests that are not over TLS"


def test_sketches_and_results_expire_after_the_retention_period(
    resources: dict[str, Any],
) -> None:
    rules = resources["ArtifactsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    enabled = [rule for rule in rules if rule["Status"] == "Enabled"]
    expiry_by_prefix = {
        rule["Prefix"]: rule["ExpirationInDays"] for rule in enabled if "ExpirationInDays" in rule
    }

    assert expiry_by_prefix == {
        "sketches/": {"Ref": "ResultRetentionDays"},
        "results/": {"Ref": "ResultRetentionDays"},
        "previews/": 1,
        # A presigned upload is only needed until its job is submitted.
        "uploads/": 1,
    }
    assert any("AbortIncompleteMultipartUpload" in rule for rule in enabled)


# ---------------------------------------------------------------- tables


def test_tables_have_the_documented_keys_and_indexes(resources: dict[str, Any]) -> None:
    def keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
        return [(key["AttributeName"], key["KeyType"]) for key in schema]

    jobs = resources["JobsTable"]["Properties"]
    assert keys(jobs["KeySchema"]) == [("id", "HASH")]
    by_user, by_status, by_sketch = jobs["GlobalSecondaryIndexes"]
    assert by_user["IndexName"] == "by_user"
    assert keys(by_user["KeySchema"]) == [("user_id", "HASH"), ("created_at", "RANGE")]
    assert by_status["IndexName"] == "by_status"
    assert keys(by_status["KeySchema"]) == [("status", "HASH"), ("updated_at", "RANGE")]
    # Who else uses a sketch or a result, before a deletion removes it.
    assert by_sketch["IndexName"] == "by_sketch"
    assert keys(by_sketch["KeySchema"]) == [("sketch_key", "HASH"), ("fingerprint", "RANGE")]
    assert by_sketch["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["result_key"],
    }

    preferences = resources["PreferencesTable"]["Properties"]
    assert keys(preferences["KeySchema"]) == [("user_id", "HASH")]

    connections = resources["ConnectionsTable"]["Properties"]
    assert keys(connections["KeySchema"]) == [("connection_id", "HASH"), ("sort", "RANGE")]
    (by_job,) = connections["GlobalSecondaryIndexes"]
    assert by_job["IndexName"] == "by_job"
    assert keys(by_job["KeySchema"]) == [("job_id", "HASH"), ("connection_id", "RANGE")]

    for table in (jobs, connections):
        declared = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        assert set(declared.values()) == {"S"}


def test_jobs_and_connections_expire_through_ttl(resources: dict[str, Any]) -> None:
    for name in ("JobsTable", "ConnectionsTable"):
        ttl = resources[name]["Properties"].get("TimeToLiveSpecification")
        assert ttl == {"AttributeName": "expires_at", "Enabled": True}, name


def test_tables_are_on_demand_and_encrypted_and_jobs_are_recoverable(
    resources: dict[str, Any],
) -> None:
    for name in ("JobsTable", "ConnectionsTable"):
        table = resources[name]["Properties"]
        assert table["BillingMode"] == "PAY_PER_REQUEST", name
        assert table["SSESpecification"]["SSEEnabled"] is True, name
    recovery = resources["JobsTable"]["Properties"]["PointInTimeRecoverySpecification"]
    assert recovery["PointInTimeRecoveryEnabled"] is True


def test_the_ledger_outlives_the_stack_and_can_be_restored(resources: dict[str, Any]) -> None:
    ledger = resources["LedgerTable"]
    # Billing records: never deleted with the stack or by a replacement, never expired.
    assert ledger["DeletionPolicy"] == "Retain"
    assert ledger["UpdateReplacePolicy"] == "Retain"
    table = ledger["Properties"]
    assert "TimeToLiveSpecification" not in table
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
        ("pk", "HASH"),
        ("sk", "RANGE"),
    ]
    (by_fingerprint,) = table["GlobalSecondaryIndexes"]
    assert by_fingerprint["IndexName"] == "by_fingerprint"


def test_only_the_functions_that_bill_or_report_reach_the_ledger(
    functions: dict[str, Any],
) -> None:
    def ledger_policies(function: dict[str, Any]) -> set[str]:
        return {
            kind
            for policy in function["Properties"].get("Policies", [])
            if isinstance(policy, dict)
            for kind, body in policy.items()
            if isinstance(body, dict) and body.get("TableName") == {"Ref": "LedgerTable"}
        }

    reaching = {name: ledger_policies(f) for name, f in functions.items() if ledger_policies(f)}
    assert reaching == {
        "SubmitFunction": {"DynamoDBCrudPolicy"},  # a cache hit's entry
        "ProcessorFunction": {"DynamoDBCrudPolicy"},  # every billed call's entry
        "QueryFunction": {"DynamoDBReadPolicy"},  # GET /usage
        "AdminFunction": {"DynamoDBReadPolicy"},  # GET /admin/usage
        # A job it fails carries what its calls were billed.
        "DeadLetterFunction": {"DynamoDBReadPolicy"},
        # ...and a follower it settles gets its (free) entry.
        "SweepFunction": {"DynamoDBCrudPolicy"},
    }


# ---------------------------------------------------------------- functions


def test_functions_are_the_documented_ones_on_python_311_arm64(
    functions: dict[str, Any], function_globals: dict[str, Any]
) -> None:
    assert {name: f["Properties"]["CodeUri"] for name, f in functions.items()} == (
        DOCUMENTED_FUNCTIONS
    )
    for name, function in functions.items():
        if name == OCR_FUNCTION:
            continue
        assert _effective(function, function_globals, "Handler") == "app.lambda_handler", name
        assert _effective(function, function_globals, "Runtime") == "python3.11", name
        assert _effective(function, function_globals, "Architectures") == ["arm64"], name
        assert _effective(function, function_globals, "Layers") == [
            {"Ref": "SharedLayer"},
            {"Ref": "DependenciesLayer"},
        ], name


def test_the_ocr_function_runs_on_its_own_runtime_without_the_layers(
    functions: dict[str, Any], function_globals: dict[str, Any]
) -> None:
    ocr = functions[OCR_FUNCTION]

    assert _effective(ocr, function_globals, "Handler") == "app.lambda_handler"
    # Amazon Linux 2023: onnxruntime with NumPy 2 needs a newer glibc than python3.11's AL2.
    assert _effective(ocr, function_globals, "Runtime") == "python3.12"
    assert _effective(ocr, function_globals, "Architectures") == ["arm64"]
    # SAM appends a function's Layers to the Globals ones, so the layers must not be global.
    assert "Layers" not in function_globals
    assert "Layers" not in ocr["Properties"]
    # Its Makefile installs exactly the pinned wheels (headless OpenCV, no libGL).
    assert ocr["Metadata"]["BuildMethod"] == "makefile"
    assert _effective(ocr, function_globals, "Timeout") < _effective(
        functions["SubmitFunction"], function_globals, "Timeout"
    )


def test_only_submit_may_invoke_the_ocr_function_which_may_reach_nothing(
    functions: dict[str, Any],
) -> None:
    def invokes_ocr(function: dict[str, Any]) -> bool:
        return any(
            statement["Effect"] == "Allow"
            and "lambda:InvokeFunction" in _actions(statement)
            and statement["Resource"] == {"Fn::GetAtt": [OCR_FUNCTION, "Arn"]}
            for policy in function["Properties"].get("Policies", [])
            if isinstance(policy, dict)
            for statement in policy.get("Statement", [])
        )

    assert {name for name, f in functions.items() if invokes_ocr(f)} == {"SubmitFunction"}
    # It only reads the image in its event: the basic execution role (logs, traces) is all.
    assert not functions[OCR_FUNCTION]["Properties"].get("Policies")
    submit_environment = functions["SubmitFunction"]["Properties"]["Environment"]["Variables"]
    assert submit_environment["OCR_FUNCTION_NAME"] == {"Ref": OCR_FUNCTION}


def test_every_function_gets_exactly_the_documented_environment(
    repo_root: Path, functions: dict[str, Any], function_globals: dict[str, Any]
) -> None:
    documented = _documented_settings_variables(repo_root) | RUNTIME_VARIABLES
    assert "JOBS_TABLE" in documented, "could not read the table in docs/architecture.md"
    assert set(FUNCTION_SCOPED_VARIABLES) <= documented

    for name, function in functions.items():
        # A function-scoped variable goes only where it is read. The OCR function reads no
        # settings, but SAM merges the Globals environment into every function and cannot
        # leave one out; it gets the shared names and no IAM right to what they name.
        expected = documented - {
            variable
            for variable, readers in FUNCTION_SCOPED_VARIABLES.items()
            if name not in readers
        }
        assert set(_environment(function, function_globals)) == expected, name


def test_every_settings_variable_the_template_sets_is_one_settings_reads(
    functions: dict[str, Any], function_globals: dict[str, Any]
) -> None:
    from sketchbridge.settings import Settings

    read_by_settings = {field.alias for field in Settings.model_fields.values()}
    required = {field.alias for field in Settings.model_fields.values() if field.is_required()}

    for name, function in functions.items():
        environment = set(_environment(function, function_globals))
        assert environment - RUNTIME_VARIABLES - PROVIDER_CONFIG_VARIABLES <= read_by_settings, name
        assert required <= environment, f"{name} would fail its first cold start"


def test_provider_variables_the_template_sets_are_read_by_an_adapter(repo_root: Path) -> None:
    adapters = "".join(
        path.read_text(encoding="utf-8")
        for path in (repo_root / "shared" / "sketchbridge" / "providers").glob("*.py")
    )
    for variable in PROVIDER_CONFIG_VARIABLES:
        assert f'"{variable}"' in adapters, variable


def test_powertools_names_the_service_and_its_metrics(function_globals: dict[str, Any]) -> None:
    variables = function_globals["Environment"]["Variables"]

    assert variables["POWERTOOLS_SERVICE_NAME"] == "sketchbridge"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Sketchbridge"
    assert variables["LOG_LEVEL"] == {"Ref": "LogLevel"}


def test_query_function_can_only_read(functions: dict[str, Any]) -> None:
    policies = _policy_names(functions["QueryFunction"])

    assert policies
    assert all(policy.endswith("ReadPolicy") for policy in policies), policies


def test_only_the_functions_that_push_to_clients_may_manage_connections(
    functions: dict[str, Any],
) -> None:
    may_push = {name for name, f in functions.items() if _grants_manage_connections(f)}

    # The dead-letter handler and the sweep tell subscribers when they end a job; submit's
    # cancel route pushes the canceled frame.
    assert may_push == {
        "SubmitFunction",
        "ProcessorFunction",
        "WebSocketFunction",
        "DeadLetterFunction",
        "SweepFunction",
    }


# ---------------------------------------------------------------- APIs


def test_http_routes_reach_the_documented_functions_behind_their_authorizers(
    resources: dict[str, Any], functions: dict[str, Any]
) -> None:
    routes = {
        (event["Properties"]["Method"], event["Properties"]["Path"]): name
        for name, function in functions.items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    assert routes == DOCUMENTED_HTTP_ROUTES | DOCUMENTED_ADMIN_ROUTES

    auth = resources["HttpApi"]["Properties"]["Auth"]
    default = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert default["IdentitySource"] == "$request.header.Authorization"
    assert set(default["JwtConfiguration"]) == {"issuer", "audience"}
    assert auth["EnableIamAuthorizer"] is True
    for function in functions.values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            route = (event["Properties"]["Method"], event["Properties"]["Path"])
            if route in DOCUMENTED_ADMIN_ROUTES:
                # IAM only: a user's token must never open an admin route.
                assert event["Properties"]["Auth"] == {"Authorizer": "AWS_IAM"}, route
            else:
                assert "Auth" not in event["Properties"], "a route must not opt out of auth"


def test_every_http_route_is_in_the_openapi_route_table_and_no_other(
    functions: dict[str, Any],
) -> None:
    """Adding a route is one ApiRoute entry (sketchbridge/api/openapi.py) and its event."""
    from sketchbridge.api.openapi import ROUTES

    in_template = {
        (event["Properties"]["Method"], event["Properties"]["Path"]): name
        for name, function in functions.items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    assert {(route.method, route.path): route.function for route in ROUTES} == in_template


def test_websocket_routes_reach_the_websocket_function(resources: dict[str, Any]) -> None:
    api = resources["WebSocketApi"]["Properties"]
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"

    integrations = {
        name: res["Properties"]
        for name, res in resources.items()
        if res["Type"] == "AWS::ApiGatewayV2::Integration"
    }
    routes = {
        res["Properties"]["RouteKey"]: res["Properties"]["Target"]
        for res in resources.values()
        if res["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert set(routes) == DOCUMENTED_WEBSOCKET_ROUTES
    for route_key, target in routes.items():
        integration_name = target["Fn::Sub"].removeprefix("integrations/${").removesuffix("}")
        integration = integrations[integration_name]
        assert integration["IntegrationType"] == "AWS_PROXY", route_key
        assert "${WebSocketFunction.Arn}" in integration["IntegrationUri"]["Fn::Sub"], route_key

    permissions = [
        res["Properties"] for res in resources.values() if res["Type"] == "AWS::Lambda::Permission"
    ]
    assert any(
        p["FunctionName"] == {"Ref": "WebSocketFunction"}
        and p["Principal"] == "apigateway.amazonaws.com"
        for p in permissions
    )


def test_without_an_external_issuer_the_stack_brings_its_own_user_pool(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert template["Conditions"]["CreateUserPool"] == {"Fn::Equals": [{"Ref": "JwtIssuer"}, ""]}
    assert template["Parameters"]["JwtIssuer"]["Default"] == ""
    assert template["Parameters"]["JwtAudience"]["Default"] == ""
    for name in ("UserPool", "UserPoolClient"):
        assert resources[name]["Condition"] == "CreateUserPool", name


def test_outputs_tell_a_client_where_to_connect(template: dict[str, Any]) -> None:
    assert {
        "HttpApiUrl",
        "WebSocketUrl",
        "JobsTableName",
        "ArtifactsBucketName",
        "UserPoolId",
        "UserPoolClientId",
    } <= set(template["Outputs"])

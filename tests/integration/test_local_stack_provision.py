"""The local stack provisions emulated AWS from template.yaml itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.intrinsics import Resolver
from local.moto_server import MotoServer
from local.provision import Provisioned, aws_session, provision
from local.template import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
OVERRIDES = {
    "WEBSOCKET_MANAGEMENT_URL": "http://127.0.0.1:3000/_connections",
    "JWT_ISSUER": "http://127.0.0.1:3000/dev-issuer",
    "JWT_AUDIENCE": "sketchbridge-local",
}


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[str]:
    server = MotoServer()
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def provisioned(aws_endpoint: str) -> Provisioned:
    return provision(
        load_template(TEMPLATE), endpoint_url=aws_endpoint, environment_overrides=OVERRIDES
    )


def _client(service: str, endpoint: str) -> Any:
    return aws_session().client(service, endpoint_url=endpoint)


def _key(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(element["AttributeName"], element["KeyType"]) for element in schema]


def test_jobs_table_has_the_templates_key_index_and_ttl(
    provisioned: Provisioned, aws_endpoint: str
) -> None:
    dynamodb = _client("dynamodb", aws_endpoint)
    name = provisioned.physical_ids["JobsTable"]

    table = dynamodb.describe_table(TableName=name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    assert name == "sketchbridge-local-JobsTable"
    assert _key(table["KeySchema"]) == [("id", "HASH")]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert _key(indexes["by_user"]["KeySchema"]) == [("user_id", "HASH"), ("created_at", "RANGE")]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_connections_table_has_the_sparse_by_job_index(
    provisioned: Provisioned, aws_endpoint: str
) -> None:
    dynamodb = _client("dynamodb", aws_endpoint)
    name = provisioned.physical_ids["ConnectionsTable"]

    table = dynamodb.describe_table(TableName=name)["Table"]

    assert _key(table["KeySchema"]) == [("connection_id", "HASH"), ("sort", "RANGE")]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert _key(indexes["by_job"]["KeySchema"]) == [("job_id", "HASH"), ("connection_id", "RANGE")]


def test_jobs_queue_redrives_to_its_dead_letter_queue(
    provisioned: Provisioned, aws_endpoint: str
) -> None:
    sqs = _client("sqs", aws_endpoint)

    attributes = sqs.get_queue_attributes(
        QueueUrl=provisioned.physical_ids["JobsQueue"], AttributeNames=["All"]
    )["Attributes"]
    dead_letter_arn = sqs.get_queue_attributes(
        QueueUrl=provisioned.physical_ids["JobsDeadLetterQueue"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dead_letter_arn
    assert int(redrive["maxReceiveCount"]) == 3
    processor_timeout = provisioned.functions["ProcessorFunction"].timeout_seconds
    assert int(attributes["VisibilityTimeout"]) >= 6 * processor_timeout


def test_artifacts_bucket_is_private_encrypted_and_expires_objects(
    provisioned: Provisioned, aws_endpoint: str
) -> None:
    s3 = _client("s3", aws_endpoint)
    bucket = provisioned.physical_ids["ArtifactsBucket"]

    public_access = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]

    assert bucket == bucket.lower()
    assert all(public_access.values())
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    expiring_prefixes = {rule["Filter"].get("Prefix") for rule in lifecycle if "Expiration" in rule}
    assert {"sketches/", "results/"} <= expiring_prefixes


def test_every_function_sees_the_physical_names_and_the_local_endpoints(
    provisioned: Provisioned,
) -> None:
    ids = provisioned.physical_ids
    expected = {
        "JOBS_TABLE": ids["JobsTable"],
        "CONNECTIONS_TABLE": ids["ConnectionsTable"],
        "JOBS_QUEUE_URL": ids["JobsQueue"],
        "ARTIFACTS_BUCKET": ids["ArtifactsBucket"],
        **OVERRIDES,
    }

    assert set(provisioned.functions) == {
        "AdminFunction",
        "SubmitFunction",
        "QueryFunction",
        "ProcessorFunction",
        "WebSocketFunction",
        "OcrFunction",
        "HealthFunction",
        "DeadLetterFunction",
        "SweepFunction",
        "KeysFunction",
        "KeyAuthorizerFunction",
        "DropinFunction",
        "WebhookFunction",
    }
    for function in provisioned.functions.values():
        assert {name: function.environment.get(name) for name in expected} == expected
        assert function.handler == "app.lambda_handler"
        assert function.code_uri.parent == REPO_ROOT / "functions"


def test_processor_is_fed_by_the_jobs_queue_with_partial_batch_failures(
    provisioned: Provisioned,
) -> None:
    by_queue = {
        source.queue_url: source
        for source in provisioned.queue_event_sources
        if source.function_id == "ProcessorFunction"
    }
    assert set(by_queue) == {
        provisioned.physical_ids["JobsQueue"],
        provisioned.physical_ids["BatchQueue"],
    }
    for source in by_queue.values():
        assert source.function_id == "ProcessorFunction"
        assert source.report_batch_item_failures
        assert source.batch_size >= 1
    # The interactive queue is served first locally, as its larger cap does on AWS.
    interactive = by_queue[provisioned.physical_ids["JobsQueue"]]
    batch = by_queue[provisioned.physical_ids["BatchQueue"]]
    assert (interactive.maximum_concurrency or 0) > (batch.maximum_concurrency or 0)


def test_every_dead_letter_queue_feeds_the_dead_letter_function(
    provisioned: Provisioned,
) -> None:
    fed = {
        source.queue_url
        for source in provisioned.queue_event_sources
        if source.function_id == "DeadLetterFunction"
    }
    assert fed == {
        provisioned.physical_ids["JobsDeadLetterQueue"],
        provisioned.physical_ids["BatchDeadLetterQueue"],
    }


def test_the_alerts_topic_exists_and_only_the_functions_that_may_publish_know_it(
    provisioned: Provisioned, aws_endpoint: str
) -> None:
    sns = _client("sns", aws_endpoint)
    topic_arn = provisioned.physical_ids["AlertsTopic"]

    topics = {topic["TopicArn"] for topic in sns.list_topics()["Topics"]}
    assert topic_arn in topics
    assert topic_arn.endswith("-alerts")
    told = {
        logical_id
        for logical_id, function in provisioned.functions.items()
        if function.environment.get("ALERTS_TOPIC_ARN") == topic_arn
    }
    # DropinFunction submits jobs too, and so may cross a soft limit.
    assert told == {"SubmitFunction", "ProcessorFunction", "DropinFunction"}
    # Alarms, the dashboard and the AWS budget watch what only AWS has: nothing is created.
    assert "OperationsDashboard" not in provisioned.physical_ids
    assert "AwsBillBudget" not in provisioned.physical_ids


def test_provisioning_again_on_a_restarted_emulator_starts_from_scratch() -> None:
    template = load_template(TEMPLATE)
    for _ in range(2):
        server = MotoServer()
        endpoint = server.start()
        try:
            provisioned = provision(template, endpoint_url=endpoint)
            assert "JobsTable" in provisioned.physical_ids
        finally:
            server.stop()


def test_resolver_evaluates_conditions_and_substitutions() -> None:
    resolver = Resolver(
        parameters={"Stage": "dev", "Issuer": ""},
        conditions={"NoIssuer": {"Fn::Equals": [{"Ref": "Issuer"}, ""]}},
    )
    resolver.record("Queue", ref="https://queue", attributes={"Arn": "arn:aws:sqs:queue"})

    value = resolver.resolve(
        {
            "Name": {"Fn::Sub": "app-${Stage}-${AWS::Region}"},
            "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
            "Url": {"Fn::Sub": ["${Url}/x", {"Url": {"Ref": "Queue"}}]},
            "Issuer": {"Fn::If": ["NoIssuer", "pool", {"Ref": "Issuer"}]},
            "Gone": {"Ref": "AWS::NoValue"},
            "Joined": {"Fn::Join": ["-", ["a", {"Fn::Select": [1, ["b", "c"]]}]]},
        }
    )

    assert value == {
        "Name": "app-dev-us-east-1",
        "Arn": "arn:aws:sqs:queue",
        "Url": "https://queue/x",
        "Issuer": "pool",
        "Joined": "a-c",
    }

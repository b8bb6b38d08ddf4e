"""Create the AWS resources that `template.yaml` declares, in the emulated AWS.

Walks the translated CloudFormation template in dependency order and creates DynamoDB tables,
SQS queues, S3 buckets and SNS topics with boto3, then resolves what the handlers need from the
rest: each function's environment, code location and limits, and the SQS event source mappings.
Everything else (IAM, API Gateway, Lambda permissions, Cognito, layers, KMS keys, alarms, the
dashboard, budgets) has no local counterpart worth emulating or is played by the gateway; it is
skipped and logged at debug with the reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local.intrinsics import Resolver, referenced_logical_ids
from local.moto_server import DUMMY_CREDENTIALS
from local.template import ACCOUNT_ID, REGION, STACK_NAME, CloudFormationTemplate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FunctionConfig:
    """What the local runtime needs to invoke one Lambda function as AWS would."""

    logical_id: str
    name: str
    arn: str
    code_uri: Path
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]


@dataclass(frozen=True)
class QueueEventSource:
    """An SQS event source mapping: which queue feeds which function, and how."""

    function_id: str
    queue_url: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool = True
    # ScalingConfig.MaximumConcurrency: locally, a function's sources with a
    # higher cap are served first (the interactive queue before the batch one).
    maximum_concurrency: int | None = None


@dataclass
class Provisioned:
    """What provisioning created: physical ids by logical id, functions and their triggers."""

    physical_ids: dict[str, str] = field(default_factory=dict)
    functions: dict[str, FunctionConfig] = field(default_factory=dict)
    queue_event_sources: list[QueueEventSource] = field(default_factory=list)
    resolver: Resolver | None = None


def aws_session() -> boto3.session.Session:
    """A boto3 session signing with the dummy credentials the emulated AWS accepts."""
    return boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=REGION,
    )


def physical_name(logical_id: str, *, lowercase: bool = False) -> str:
    name = f"{STACK_NAME}-{logical_id}"
    return name.lower() if lowercase else name


def provision(
    template: CloudFormationTemplate,
    *,
    endpoint_url: str,
    environment_overrides: Mapping[str, str] | None = None,
) -> Provisioned:
    """Create the template's tables, queues and buckets against `endpoint_url`.

    `environment_overrides` replaces the value of a function environment variable of that
    name wherever a function declares it: the values that on AWS point at Cognito or at the
    WebSocket API's domain point at the local gateway instead.
    """
    resolver = Resolver(
        parameters=template.parameter_values,
        conditions=template.body.get("Conditions", {}),
        mappings=template.body.get("Mappings", {}),
    )
    creators = _Creators(aws_session(), endpoint_url)
    provisioned = Provisioned(resolver=resolver)
    resources = {
        logical_id: resource
        for logical_id, resource in template.resources.items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }
    for logical_id in _dependency_order(resources):
        resource = resources[logical_id]
        create = creators.by_type.get(resource["Type"])
        if create is None:
            logger.debug("skipped %s: %s", logical_id, _why_skipped(resource))
            continue
        properties = resolver.resolve(resource.get("Properties", {}))
        ref, attributes = create(logical_id, properties)
        resolver.record(logical_id, ref=ref, attributes=attributes)
        provisioned.physical_ids[logical_id] = ref
        logger.debug("created %s (%s): %s", logical_id, resource["Type"], ref)

    _resolve_functions(template, resources, resolver, provisioned, environment_overrides or {})
    return provisioned


def _why_skipped(resource: Mapping[str, Any]) -> str:
    resource_type = str(resource["Type"])
    if resource_type in ("AWS::Lambda::Function", "AWS::Lambda::EventSourceMapping"):
        return f"{resource_type} is played by the local runtime and poller"
    if resource_type.startswith("AWS::ApiGatewayV2::"):
        return f"{resource_type} is played by the local gateway"
    if resource_type in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"):
        # The functions' metrics are EMF log lines locally; no CloudWatch reads them.
        return f"{resource_type} watches CloudWatch metrics, which the local stack does not keep"
    if resource_type == "AWS::Budgets::Budget":
        return f"{resource_type} watches an AWS bill; the local stack has none"
    if resource_type in ("AWS::KMS::Key", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription"):
        return f"{resource_type}: the local alerts topic is unencrypted, open and unsubscribed"
    return f"{resource_type} is not emulated locally"


def _dependency_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Logical ids ordered so that each comes after everything it references (a DLQ first)."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in ordered or logical_id not in resources:
            return
        if logical_id in visiting:
            raise ValueError(f"circular reference through {logical_id}")
        visiting.add(logical_id)
        resource = resources[logical_id]
        depends_on = resource.get("DependsOn", [])
        for dependency in [depends_on] if isinstance(depends_on, str) else depends_on:
            visit(dependency)
        for dependency in referenced_logical_ids(resource.get("Properties", {})):
            visit(dependency)
        visiting.discard(logical_id)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered


# -- functions and their triggers ------------------------------------------------------------


def _resolve_functions(
    template: CloudFormationTemplate,
    resources: Mapping[str, Mapping[str, Any]],
    resolver: Resolver,
    provisioned: Provisioned,
    environment_overrides: Mapping[str, str],
) -> None:
    functions = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    # Names first: a function's environment may reference another function.
    for logical_id, resource in functions.items():
        properties = resource.get("Properties", {})
        name = (
            resolver.resolve_string(properties["FunctionName"])
            if "FunctionName" in properties
            else physical_name(logical_id)
        )
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        resolver.record(logical_id, ref=name, attributes={"Arn": arn})
        provisioned.physical_ids[logical_id] = name

    for logical_id, resource in functions.items():
        if logical_id not in template.code_uris:
            logger.warning("skipped %s: its code is not in this repository", logical_id)
            continue
        properties = resource.get("Properties", {})
        variables = resolver.resolve(properties.get("Environment", {}).get("Variables", {}))
        environment = {name: _env_string(value) for name, value in variables.items()}
        environment.update(
            {name: value for name, value in environment_overrides.items() if name in environment}
        )
        name = provisioned.physical_ids[logical_id]
        provisioned.functions[logical_id] = FunctionConfig(
            logical_id=logical_id,
            name=name,
            arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            code_uri=template.code_uris[logical_id],
            handler=resolver.resolve_string(properties.get("Handler", "app.lambda_handler")),
            timeout_seconds=int(resolver.resolve_string(properties.get("Timeout", 3))),
            memory_mb=int(resolver.resolve_string(properties.get("MemorySize", 128))),
            environment=environment,
        )

    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        source = _queue_event_source(resource.get("Properties", {}), resolver, provisioned)
        if source is None:
            logger.debug("skipped %s: not an SQS queue of this stack", logical_id)
        else:
            provisioned.queue_event_sources.append(source)


def _queue_event_source(
    properties: Mapping[str, Any], resolver: Resolver, provisioned: Provisioned
) -> QueueEventSource | None:
    function_ids = [
        logical_id
        for logical_id in referenced_logical_ids(properties.get("FunctionName"))
        if logical_id in provisioned.functions
    ]
    queue_ids = [
        logical_id
        for logical_id in referenced_logical_ids(properties.get("EventSourceArn"))
        if logical_id in provisioned.physical_ids and logical_id not in provisioned.functions
    ]
    if not function_ids or not queue_ids:
        return None
    resolved = resolver.resolve(dict(properties))
    queue_arn = str(resolved["EventSourceArn"])
    if ":sqs:" not in queue_arn:
        return None
    return QueueEventSource(
        function_id=function_ids[0],
        queue_url=provisioned.physical_ids[queue_ids[0]],
        queue_arn=queue_arn,
        batch_size=int(resolved.get("BatchSize", 10)),
        report_batch_item_failures="ReportBatchItemFailures"
        in resolved.get("FunctionResponseTypes", []),
        enabled=_truthy(resolved.get("Enabled", True)),
        maximum_concurrency=int(resolved["ScalingConfig"]["MaximumConcurrency"])
        if "MaximumConcurrency" in resolved.get("ScalingConfig", {})
        else None,
    )


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# -- resources -------------------------------------------------------------------------------

Creator = Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]


class _Creators:
    """One boto3 call sequence per CloudFormation resource type; returns (Ref, attributes)."""

    def __init__(self, session: boto3.session.Session, endpoint_url: str) -> None:
        self._dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
        self._sqs = session.client("sqs", endpoint_url=endpoint_url)
        self._s3 = session.client("s3", endpoint_url=endpoint_url)
        self._secrets = session.client("secretsmanager", endpoint_url=endpoint_url)
        self._sns = session.client("sns", endpoint_url=endpoint_url)
        self.by_type: dict[str, Creator] = {
            "AWS::DynamoDB::Table": self.table,
            "AWS::SQS::Queue": self.queue,
            "AWS::S3::Bucket": self.bucket,
            "AWS::SecretsManager::Secret": self.secret,
            "AWS::SNS::Topic": self.topic,
        }

    def topic(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The topic the functions publish alerts to; tests read what reached it from moto."""
        name = properties.get("TopicName") or physical_name(logical_id)
        attributes = (
            {"DisplayName": properties["DisplayName"]} if "DisplayName" in properties else {}
        )
        arn = self._sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        # Ref on a topic is its ARN.
        return arn, {"TopicArn": arn, "TopicName": name}

    def secret(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The secret as the template declares it; keys are put into it afterwards."""
        name = properties.get("Name") or physical_name(logical_id)
        arn = self._secrets.create_secret(
            Name=name,
            Description=properties.get("Description", ""),
            SecretString=properties.get("SecretString", "{}"),
        )["ARN"]
        # Ref on a secret is its ARN, which is what the functions receive.
        return arn, {"Id": arn}

    def table(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = properties.get("TableName") or physical_name(logical_id)
        billing_mode = properties.get("BillingMode", "PROVISIONED")
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": billing_mode,
        }
        if billing_mode == "PROVISIONED":
            request["ProvisionedThroughput"] = _throughput(properties["ProvisionedThroughput"])
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if index_kind in properties:
                request[index_kind] = [_index(index) for index in properties[index_kind]]
        if "StreamSpecification" in properties:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": properties["StreamSpecification"]["StreamViewType"],
            }
        if "SSESpecification" in properties:
            sse = properties["SSESpecification"]
            request["SSESpecification"] = {
                "Enabled": _truthy(sse.get("SSEEnabled", False)),
                **{key: sse[key] for key in ("SSEType", "KMSMasterKeyId") if key in sse},
            }
        if "TableClass" in properties:
            request["TableClass"] = properties["TableClass"]
        if properties.get("Tags"):
            request["Tags"] = properties["Tags"]
        description = self._dynamodb.create_table(**request)["TableDescription"]

        ttl = properties.get("TimeToLiveSpecification")
        if ttl and _truthy(ttl.get("Enabled")):
            self._dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        recovery = properties.get("PointInTimeRecoverySpecification", {})
        if _truthy(recovery.get("PointInTimeRecoveryEnabled", False)):
            self._dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        attributes = {"Arn": description["TableArn"]}
        if "LatestStreamArn" in description:
            attributes["StreamArn"] = description["LatestStreamArn"]
        return name, attributes

    def queue(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        fifo = _truthy(properties.get("FifoQueue", False))
        name = properties.get("QueueName") or physical_name(logical_id)
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        queue_attributes = {
            key: (json.dumps(value) if isinstance(value, dict) else _env_string(value))
            for key, value in properties.items()
            if key not in ("QueueName", "Tags")
        }
        request: dict[str, Any] = {"QueueName": name, "Attributes": queue_attributes}
        if properties.get("Tags"):
            request["tags"] = {tag["Key"]: tag["Value"] for tag in properties["Tags"]}
        url = self._sqs.create_queue(**request)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def bucket(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = properties.get("BucketName") or physical_name(logical_id, lowercase=True)
        self._s3.create_bucket(Bucket=name)  # us-east-1 takes no LocationConstraint
        if "BucketEncryption" in properties:
            self._s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": _encryption_rules(properties["BucketEncryption"])
                },
            )
        if "PublicAccessBlockConfiguration" in properties:
            self._s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration={
                    key: _truthy(value)
                    for key, value in properties["PublicAccessBlockConfiguration"].items()
                },
            )
        if "OwnershipControls" in properties:
            self._s3.put_bucket_ownership_controls(
                Bucket=name, OwnershipControls=properties["OwnershipControls"]
            )
        if "VersioningConfiguration" in properties:
            self._s3.put_bucket_versioning(
                Bucket=name,
                VersioningConfiguration={"Status": properties["VersioningConfiguration"]["Status"]},
            )
        if "LifecycleConfiguration" in properties:
            self._s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [
                        _lifecycle_rule(rule)
                        for rule in properties["LifecycleConfiguration"]["Rules"]
                    ]
                },
            )
        if "CorsConfiguration" in properties:
            self._s3.put_bucket_cors(
                Bucket=name,
                CORSConfiguration={
                    "CORSRules": [
                        _cors_rule(rule) for rule in properties["CorsConfiguration"]["CorsRules"]
                    ]
                },
            )
        if properties.get("Tags"):
            self._s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": properties["Tags"]})
        return name, {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
        }


def _throughput(throughput: Mapping[str, Any]) -> dict[str, int]:
    return {key: int(value) for key, value in throughput.items()}


def _index(index: Mapping[str, Any]) -> dict[str, Any]:
    converted = dict(index)
    if "ProvisionedThroughput" in converted:
        converted["ProvisionedThroughput"] = _throughput(converted["ProvisionedThroughput"])
    # CloudFormation-only keys that the DynamoDB API does not take.
    for key in ("ContributorInsightsSpecification", "OnDemandThroughput", "WarmThroughput"):
        converted.pop(key, None)
    return converted


def _encryption_rules(encryption: Mapping[str, Any]) -> list[dict[str, Any]]:
    rules = []
    for rule in encryption["ServerSideEncryptionConfiguration"]:
        converted: dict[str, Any] = {}
        if "ServerSideEncryptionByDefault" in rule:
            converted["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
        if "BucketKeyEnabled" in rule:
            converted["BucketKeyEnabled"] = _truthy(rule["BucketKeyEnabled"])
        rules.append(converted)
    return rules


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's flattened lifecycle rule → the S3 API's nested one."""
    converted: dict[str, Any] = {"Status": rule["Status"]}
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    conditions: list[dict[str, Any]] = []
    if "Prefix" in rule:
        conditions.append({"Prefix": rule["Prefix"]})
    for tag in rule.get("TagFilters", []):
        conditions.append({"Tag": {"Key": tag["Key"], "Value": tag["Value"]}})
    for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if key in rule:
            conditions.append({key: int(rule[key])})
    if len(conditions) > 1:
        conjunction: dict[str, Any] = {}
        for condition in conditions:
            if "Tag" in condition:
                conjunction.setdefault("Tags", []).append(condition["Tag"])
            else:
                conjunction.update(condition)
        converted["Filter"] = {"And": conjunction}
    else:
        converted["Filter"] = conditions[0] if conditions else {"Prefix": ""}
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = _truthy(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        converted["Expiration"] = expiration
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(
                rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            )
        }
    if "NoncurrentVersionExpirationInDays" in rule:
        converted["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
        }
    if "Transitions" in rule:
        converted["Transitions"] = [
            {
                "StorageClass": transition["StorageClass"],
                **(
                    {"Days": int(transition["TransitionInDays"])}
                    if "TransitionInDays" in transition
                    else {"Date": transition["TransitionDate"]}
                ),
            }
            for transition in rule["Transitions"]
        ]
    return converted


def _cors_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    converted = {
        key: rule[key]
        for key in ("AllowedMethods", "AllowedOrigins", "AllowedHeaders", "ExposedHeaders")
        if key in rule
    }
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    if "MaxAge" in rule:
        converted["MaxAgeSeconds"] = int(rule["MaxAge"])
    return converted

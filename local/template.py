"""Read `template.yaml` and translate it from SAM to plain CloudFormation, offline.

The local stack provisions from the translated template so that what runs here is what
CloudFormation would create: Globals merged into every function, events turned into event
source mappings and OpenAPI routes, exactly as `sam deploy` would send them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import intrinsics_multi_constructor

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "sketchbridge-local"

_SAM_FUNCTION = "AWS::Serverless::Function"
_SAM_LAYER = "AWS::Serverless::LayerVersion"


@dataclass(frozen=True)
class CloudFormationTemplate:
    """A translated template plus what the translation throws away but the local stack needs."""

    body: dict[str, Any]
    # CodeUri of each function as written in the SAM template (translation needs S3 URIs).
    code_uris: dict[str, Path]
    parameter_values: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body.get("Resources", {})
        return resources


def load_template(
    path: Path, *, parameter_overrides: Mapping[str, Any] | None = None
) -> CloudFormationTemplate:
    """Parse a SAM template (CloudFormation short tags included) and translate it offline."""
    sam = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    code_uris = _local_code_uris(sam, base=path.parent)
    parameter_values = _parameter_values(sam, parameter_overrides or {})
    body = _translate(_with_placeholder_code_locations(sam), parameter_values)
    return CloudFormationTemplate(body=body, code_uris=code_uris, parameter_values=parameter_values)


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that reads `!Ref`, `!Sub`, ... as their long forms.

    samtranslator's own `yaml_parse` registers these tags on `yaml.SafeLoader` itself, which
    would change every `yaml.safe_load` in the process; a subclass keeps that local.
    """


_CloudFormationLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def _local_code_uris(sam: dict[str, Any], *, base: Path) -> dict[str, Path]:
    global_code_uri = sam.get("Globals", {}).get("Function", {}).get("CodeUri")
    code_uris: dict[str, Path] = {}
    for logical_id, resource in sam.get("Resources", {}).items():
        if resource.get("Type") != _SAM_FUNCTION:
            continue
        code_uri = resource.get("Properties", {}).get("CodeUri", global_code_uri)
        if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
            code_uris[logical_id] = (base / code_uri).resolve()
    return code_uris


def _with_placeholder_code_locations(sam: dict[str, Any]) -> dict[str, Any]:
    """The translator accepts only S3 locations for code; point it at placeholders."""
    translatable = copy.deepcopy(sam)
    translatable.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for logical_id, resource in translatable.get("Resources", {}).items():
        properties = resource.setdefault("Properties", {})
        if resource.get("Type") == _SAM_FUNCTION and "InlineCode" not in properties:
            properties["CodeUri"] = f"s3://local-code/{logical_id}"
        elif resource.get("Type") == _SAM_LAYER:
            properties["ContentUri"] = f"s3://local-code/{logical_id}"
    return translatable


def _parameter_values(sam: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    values = {
        name: definition["Default"]
        for name, definition in sam.get("Parameters", {}).items()
        if isinstance(definition, dict) and "Default" in definition
    }
    values.update(overrides)
    return values


def _translate(sam: dict[str, Any], parameter_values: dict[str, Any]) -> dict[str, Any]:
    # An explicit session with a region keeps the translator off the environment; the empty
    # managed-policy map keeps it off IAM (it would list AWS managed policies over the network).
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    translator = Translator(None, Parser(), boto_session=session)
    translated: dict[str, Any] = translator.translate(
        sam,
        parameter_values={
            **parameter_values,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
        },
        get_managed_policy_map=dict,
    )
    return translated

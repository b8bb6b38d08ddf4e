"""Resolve CloudFormation intrinsic functions, enough for the resources the local stack creates.

Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::Equals, Fn::Not,
Fn::And, Fn::Or, Condition, Fn::FindInMap, Fn::Base64, Fn::GetAZs and AWS::NoValue, with the
pseudo parameters of one fixed region and account. A reference to a resource the stack did not
create resolves to a recognisable placeholder (`local-<LogicalId>`) rather than failing, because
such values (a Cognito pool id, an API id) only ever end up in strings the stack overrides.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from typing import Any

from local.template import ACCOUNT_ID, REGION, STACK_NAME

NO_VALUE = object()
"""What `Ref: AWS::NoValue` resolves to; dropped from the enclosing list or mapping."""

_PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::StackName": STACK_NAME,
    "AWS::StackId": (
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/"
        "00000000-0000-0000-0000-000000000000"
    ),
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class IntrinsicError(ValueError):
    """A template expression the local stack cannot evaluate."""


class Resolver:
    """Evaluates intrinsics against parameters, conditions and the resources created so far."""

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        conditions: Mapping[str, Any],
        mappings: Mapping[str, Any] | None = None,
    ) -> None:
        self._parameters = {
            **_PSEUDO_PARAMETERS,
            **{k: _as_parameter(v) for k, v in parameters.items()},
        }
        self._condition_expressions = dict(conditions)
        self._condition_values: dict[str, bool] = {}
        self._mappings = dict(mappings or {})
        self._refs: dict[str, Any] = {}
        self._attributes: dict[tuple[str, str], Any] = {}

    def record(self, logical_id: str, *, ref: Any, attributes: Mapping[str, Any]) -> None:
        """Make a created resource's Ref and Fn::GetAtt values available to later expressions."""
        self._refs[logical_id] = ref
        for name, value in attributes.items():
            self._attributes[(logical_id, name)] = value

    def is_recorded(self, logical_id: str) -> bool:
        return logical_id in self._refs

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._condition_expressions:
                raise IntrinsicError(f"unknown condition {name!r}")
            self._condition_values[name] = bool(self.resolve(self._condition_expressions[name]))
        return self._condition_values[name]

    def resolve(self, value: Any) -> Any:
        """Return `value` with every intrinsic function evaluated."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def resolve_string(self, value: Any) -> str:
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, (str, int, float)):
            return str(resolved)
        raise IntrinsicError(f"expected a string, got {resolved!r}")

    # -- the functions ------------------------------------------------------------------

    def _ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._parameters:
            return self._parameters[name]
        if name in self._refs:
            return self._refs[name]
        return f"local-{name}"

    def _get_att(self, argument: Any) -> Any:
        logical_id, attribute = _split_get_att(self.resolve(argument))
        if (logical_id, attribute) in self._attributes:
            return self._attributes[(logical_id, attribute)]
        if attribute == "Arn":
            return f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{logical_id}"
        return f"local-{logical_id}-{attribute}"

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            template, variables = argument[0], self.resolve(argument[1])
        else:
            template, variables = argument, {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self._get_att(name))
            return str(self._ref(name))

        substituted = _SUB_VARIABLE.sub(substitute, template)
        # `${!Literal}` writes `${Literal}`.
        return substituted.replace("${!", "${")

    def _join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _select(self, argument: Any) -> Any:
        index, items = self.resolve(argument)
        return items[int(index)]

    def _split(self, argument: Any) -> list[str]:
        delimiter, text = self.resolve(argument)
        return str(text).split(delimiter)

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def _equals(self, argument: Any) -> bool:
        left, right = (self.resolve(item) for item in argument)
        return str(left) == str(right)

    def _not(self, argument: Any) -> bool:
        return not self.resolve(argument[0])

    def _and(self, argument: Any) -> bool:
        return all(self.resolve(item) for item in argument)

    def _or(self, argument: Any) -> bool:
        return any(self.resolve(item) for item in argument)

    def _condition(self, name: Any) -> bool:
        return self.condition(name)

    def _find_in_map(self, argument: Any) -> Any:
        map_name, top_key, second_key = self.resolve(argument)
        return self._mappings[map_name][top_key][second_key]

    def _base64(self, argument: Any) -> str:
        return base64.b64encode(self.resolve_string(argument).encode()).decode()

    def _get_azs(self, _argument: Any) -> list[str]:
        return [f"{REGION}{zone}" for zone in "abcdef"]


_FUNCTIONS = {
    "Ref": Resolver._ref,
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::If": Resolver._if,
    "Fn::Equals": Resolver._equals,
    "Fn::Not": Resolver._not,
    "Fn::And": Resolver._and,
    "Fn::Or": Resolver._or,
    "Condition": Resolver._condition,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::Base64": Resolver._base64,
    "Fn::GetAZs": Resolver._get_azs,
}


def referenced_logical_ids(value: Any) -> Iterator[str]:
    """Every logical id an expression points at through Ref, Fn::GetAtt or Fn::Sub."""
    if isinstance(value, list):
        for item in value:
            yield from referenced_logical_ids(item)
        return
    if not isinstance(value, dict):
        return
    for key, argument in value.items():
        if key == "Ref" and isinstance(argument, str) and not argument.startswith("AWS::"):
            yield argument
        elif key == "Fn::GetAtt":
            if isinstance(argument, (str, list)):
                yield _split_get_att(argument)[0]
        elif key == "Fn::Sub":
            template = argument[0] if isinstance(argument, list) else argument
            local_names = set(argument[1]) if isinstance(argument, list) else set()
            for match in _SUB_VARIABLE.finditer(str(template)):
                name = match.group(1).strip().split(".")[0]
                if name not in local_names and not name.startswith("AWS::"):
                    yield name
            if isinstance(argument, list):
                yield from referenced_logical_ids(argument[1])
        else:
            yield from referenced_logical_ids(argument)


def _split_get_att(argument: Any) -> tuple[str, str]:
    if isinstance(argument, str):
        logical_id, _, attribute = argument.partition(".")
        return logical_id, attribute
    return str(argument[0]), str(argument[1])


def _as_parameter(value: Any) -> Any:
    """CloudFormation hands parameters to expressions as strings (lists stay lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value

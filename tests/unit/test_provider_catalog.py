from __future__ import annotations

import pytest

from sketchbridge.providers.catalog import build_registry


def _no_key(name: str):  # type: ignore[no-untyped-def]
    return lambda: None


def test_the_first_enabled_provider_is_the_default_for_auto() -> None:
    registry = build_registry(["replicate", "local"], keys=_no_key, environ={})
    assert registry.names == ["replicate", "local"]
    assert registry.resolve("auto").name == "replicate"


def test_every_named_provider_can_be_built_without_network_or_keys() -> None:
    registry = build_registry(["local", "replicate", "openai", "bedrock"], keys=_no_key, environ={})
    assert {provider.name for provider in registry.all()} == {
        "local",
        "replicate",
        "openai",
        "bedrock",
    }
    assert [p.is_ai for p in registry.all()] == [False, True, True, True]


def test_an_unknown_provider_in_the_configuration_is_refused_at_cold_start() -> None:
    with pytest.raises(ValueError, match="ENABLED_PROVIDERS"):
        build_registry(["local", "dalle"], keys=_no_key, environ={})

"""Preferences: saved per user, applied wherever a request leaves a field out."""

from __future__ import annotations

from typing import Any

import pytest

from sketchbridge.domain.errors import UnknownProviderError
from sketchbridge.domain.models import GenerationRequest, PreferencesRequest
from sketchbridge.domain.preferences import leaves_fields_out
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.preferences import (
    get_preferences,
    reset_preferences,
    save_preferences,
)
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeProvider, sketch_data_url
from tests.support.lifecycle import FakePreferenceStore, lifecycle_dependencies


def _save(deps: Dependencies, user: str = "ada", **change: Any) -> None:
    save_preferences(PreferencesRequest.model_validate(change), user_id=user, deps=deps)


def _request(**body: Any) -> GenerationRequest:
    return GenerationRequest.model_validate(
        {"sketch": sketch_data_url(), "prompt": "a sea turtle", **body}
    )


def test_without_saved_preferences_the_defaults_show() -> None:
    deps = lifecycle_dependencies()
    shown = get_preferences(user_id="ada", deps=deps)
    assert (shown.provider, shown.policy, shown.updated_at) == ("auto", "balanced", None)
    # Unset parameters mean each provider's own default (its ranges in GET /providers).
    assert shown.params.steps is None and shown.preprocessing.fit == "pad"


def test_a_change_keeps_what_it_does_not_name_and_null_forgets_one() -> None:
    deps = lifecycle_dependencies()
    _save(deps, provider="local", policy="cheapest", params={"steps": 12, "strength": 0.4})
    _save(deps, params={"steps": 30}, max_cost_usd=0.05)
    shown = get_preferences(user_id="ada", deps=deps)
    assert (shown.provider, shown.policy, shown.max_cost_usd) == ("local", "cheapest", 0.05)
    assert (shown.params.steps, shown.params.strength) == (30, 0.4)
    assert shown.updated_at is not None

    _save(deps, provider=None, params=None)
    shown = get_preferences(user_id="ada", deps=deps)
    assert shown.provider == "auto" and shown.params.steps is None and shown.policy == "cheapest"


def test_delete_puts_every_default_back() -> None:
    deps = lifecycle_dependencies()
    _save(deps, policy="fastest", preprocessing={"text": "remove"})
    shown = reset_preferences(user_id="ada", deps=deps)
    assert shown == get_preferences(user_id="ada", deps=deps)
    assert shown.policy == "balanced" and shown.preprocessing.text == "keep"
    assert shown.updated_at is None


def test_an_unknown_provider_is_refused_like_at_submit() -> None:
    deps = lifecycle_dependencies()
    with pytest.raises(UnknownProviderError):
        _save(deps, provider="dalle-9")
    assert get_preferences(user_id="ada", deps=deps).provider == "auto"


def test_preferences_fill_only_what_the_request_left_out() -> None:
    deps = lifecycle_dependencies()
    _save(deps, params={"steps": 7, "strength": 0.3}, preprocessing={"fit": "crop"})

    left_out = submit_generation(_request(provider="local"), user_id="ada", deps=deps)
    # Sending the default value is not leaving it out.
    sent_default = submit_generation(
        _request(provider="local", params={"steps": 20}), user_id="ada", deps=deps
    )

    assert (left_out.params.steps, left_out.params.strength) == (7, 0.3)
    assert (sent_default.params.steps, sent_default.params.strength) == (20, 0.3)


def test_preferences_follow_the_user_not_the_request_or_another_user() -> None:
    deps = lifecycle_dependencies()
    _save(deps, "ada", params={"steps": 9})
    bobs = submit_generation(_request(provider="local"), user_id="bob", deps=deps)
    assert bobs.params.steps == 20


def test_a_preferred_provider_is_used_when_the_request_names_none() -> None:
    deps = lifecycle_dependencies(provider=FakeProvider(name="fake"))
    _save(deps, provider="fake")
    job = submit_generation(_request(), user_id="ada", deps=deps)
    assert job.provider == "fake"
    named = submit_generation(_request(provider="local"), user_id="ada", deps=deps)
    assert named.provider == "local"


def test_a_preferred_provider_no_longer_offered_is_a_400_saying_so() -> None:
    deps = lifecycle_dependencies(provider=FakeProvider(name="fake"))
    _save(deps, provider="fake")
    deps.providers._providers.pop("fake")  # type: ignore[attr-defined]
    with pytest.raises(UnknownProviderError, match="preferences"):
        submit_generation(_request(), user_id="ada", deps=deps)


def test_a_request_that_names_every_field_reads_no_preferences() -> None:
    deps = lifecycle_dependencies()
    store = deps.preferences
    assert isinstance(store, FakePreferenceStore)
    full = _request(
        provider="local",
        policy="balanced",
        max_cost_usd=1.0,
        max_eta_s=60,
        params={
            "seed": 1,
            "steps": 2,
            "strength": 0.5,
            "guidance_scale": 7,
            "width": 128,
            "height": 128,
        },
        preprocessing={"text": "keep", "palette_hint": False, "fit": "pad"},
    )
    assert not leaves_fields_out(full)
    submit_generation(full, user_id="ada", deps=deps)
    assert store.reads == 0
    submit_generation(_request(provider="local"), user_id="ada", deps=deps)
    assert store.reads == 1

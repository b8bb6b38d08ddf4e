from __future__ import annotations

from sketchbridge.domain.suggestions import (
    gentler_prompt,
    likely_triggers,
    outage_suggestions,
    policy_suggestions,
)


def test_names_the_words_that_likely_tripped_the_filter() -> None:
    assert likely_triggers("A knight with a bloody Knife, blood everywhere") == [
        "bloody",
        "knife",
        "blood",
    ]


def test_offers_a_gentler_prompt_that_keeps_the_rest() -> None:
    assert gentler_prompt("a pirate with a gun on a ship") == "a pirate with a toy on a ship"
    # Nothing left once the trigger is dropped: no reworded prompt to offer.
    assert gentler_prompt("gore") is None
    assert gentler_prompt("a calm lake at dawn") is None


def test_policy_suggestions_quote_the_words_and_the_reworded_prompt() -> None:
    suggestions = policy_suggestions("a dead tree, gory details")
    assert "'dead', 'gory'" in suggestions[0]
    assert suggestions[1] == 'Try: "a sleeping tree, details"'


def test_a_prompt_without_known_triggers_adds_nothing_specific() -> None:
    # The provider's own refusal advice (rephrase) stands alone then.
    assert policy_suggestions("a turtle") == []


def test_outage_suggestions_name_the_other_providers() -> None:
    assert outage_suggestions("replicate", ["local", "replicate", "openai"], retryable=True) == [
        "Try another provider: local, openai.",
        "Or try again in a few minutes.",
    ]
    assert outage_suggestions("local", ["local"], retryable=True) == ["Try again in a few minutes."]


def test_waiting_is_not_suggested_when_it_cannot_help() -> None:
    # An exhausted quota or a bad key does not mend itself in a few minutes.
    assert outage_suggestions("openai", ["local", "openai"], retryable=False) == [
        "Try another provider: local."
    ]

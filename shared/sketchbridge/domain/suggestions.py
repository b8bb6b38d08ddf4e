"""Suggestions that turn a failure into a next step the user can take.

Pure rules: for a safety refusal, which words in the prompt likely tripped the
filter and a gentler prompt to try; for an outage, which other providers to use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Words that commonly trip image providers' safety filters, with a gentler
# stand-in (None: drop the word). Kept short and literal: this is a hint for a
# person, not a filter of ours.
TRIGGER_WORDS: dict[str, str | None] = {
    "blood": "red paint",
    "bloody": "red",
    "gore": None,
    "gory": None,
    "kill": "defeat",
    "killing": "defeating",
    "dead": "sleeping",
    "corpse": "statue",
    "gun": "toy",
    "guns": "toys",
    "rifle": "telescope",
    "weapon": "tool",
    "weapons": "tools",
    "knife": "spoon",
    "bomb": "balloon",
    "explosion": "burst of confetti",
    "naked": "dressed",
    "nude": "dressed",
    "sexy": "elegant",
    "drugs": "sweets",
    "cigarette": "pencil",
    "violent": "dramatic",
    "violence": "drama",
    "war": "parade",
    "terrorist": "stranger",
}
_WORD = re.compile(r"[A-Za-z']+")


def likely_triggers(prompt: str) -> list[str]:
    """Words in the prompt that often make a provider refuse, in the order they appear."""
    found = [word.lower() for word in _WORD.findall(prompt) if word.lower() in TRIGGER_WORDS]
    return list(dict.fromkeys(found))


def gentler_prompt(prompt: str) -> str | None:
    """The prompt with likely trigger words softened or dropped.

    None when there is nothing to offer: no trigger found, or nothing left.
    """
    if not likely_triggers(prompt):
        return None

    def soften(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.lower() not in TRIGGER_WORDS:
            return word
        return TRIGGER_WORDS[word.lower()] or ""

    softened = _WORD.sub(soften, prompt)
    return " ".join(softened.split()).strip(" ,") or None


def policy_suggestions(prompt: str) -> list[str]:
    """Advice specific to this prompt; empty when no known trigger word is in it."""
    triggers = likely_triggers(prompt)
    if not triggers:
        return []
    quoted = ", ".join(f"'{word}'" for word in triggers)
    suggestions = [f"These words often trip safety filters: {quoted}."]
    reworded = gentler_prompt(prompt)
    if reworded:
        suggestions.append(f'Try: "{reworded}"')
    return suggestions


def outage_suggestions(failed: str, alternatives: Sequence[str], *, retryable: bool) -> list[str]:
    """Other providers to use; waiting is only suggested when waiting can help."""
    others = [name for name in alternatives if name != failed]
    later = ["Or try again in a few minutes."] if retryable else []
    if not others:
        return ["Try again in a few minutes."] if retryable else []
    return [f"Try another provider: {', '.join(others)}.", *later]

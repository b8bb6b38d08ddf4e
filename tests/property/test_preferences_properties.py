"""Preferences fill exactly what a request left out; a history cursor opens only its own page."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sketchbridge.domain.errors import InvalidRequestError
from sketchbridge.domain.history import decode_cursor, encode_cursor
from sketchbridge.domain.models import GenerationRequest, JobStatus, PreferencesRecord
from sketchbridge.domain.preferences import apply_preferences

SKETCH_UPLOAD = "0" * 32

params = st.fixed_dictionaries(
    {},
    optional={
        "seed": st.integers(0, 2**32 - 1),
        "steps": st.integers(1, 100),
        "strength": st.floats(0, 1),
        "guidance_scale": st.floats(0, 30),
        "width": st.integers(64, 2048),
        "height": st.integers(64, 2048),
    },
)
preprocessing = st.fixed_dictionaries(
    {},
    optional={
        "text": st.sampled_from(["keep", "remove", "describe"]),
        "palette_hint": st.booleans(),
        "fit": st.sampled_from(["pad", "crop"]),
    },
)
scalars = st.fixed_dictionaries(
    {},
    optional={
        "provider": st.sampled_from(["auto", "local", "replicate"]),
        "policy": st.sampled_from(["cheapest", "fastest", "balanced"]),
        "max_cost_usd": st.floats(min_value=1e-6, max_value=100),
        "max_eta_s": st.floats(min_value=1e-3, max_value=600),
    },
)


@given(
    sent=scalars,
    sent_params=params,
    sent_pre=preprocessing,
    saved=scalars,
    saved_params=params,
    saved_pre=preprocessing,
)
def test_a_field_sent_wins_a_field_left_out_takes_the_preference_else_the_default(
    sent: dict[str, Any],
    sent_params: dict[str, Any],
    sent_pre: dict[str, Any],
    saved: dict[str, Any],
    saved_params: dict[str, Any],
    saved_pre: dict[str, Any],
) -> None:
    body: dict[str, Any] = {"sketch_upload_id": SKETCH_UPLOAD, "prompt": "a turtle", **sent}
    if sent_params:
        body["params"] = sent_params
    if sent_pre:
        body["preprocessing"] = sent_pre
    request = GenerationRequest.model_validate(body)
    record = PreferencesRecord(
        user_id="ada", updated_at="t", params=saved_params, preprocessing=saved_pre, **saved
    )

    applied = apply_preferences(request, record)

    default = GenerationRequest.model_validate({"sketch_upload_id": SKETCH_UPLOAD, "prompt": "x"})
    for name in ("provider", "policy", "max_cost_usd", "max_eta_s"):
        expected = sent.get(name, saved.get(name, getattr(default, name)))
        assert getattr(applied, name) == expected, name
    for nested, sent_values, saved_values in (
        ("params", sent_params, saved_params),
        ("preprocessing", sent_pre, saved_pre),
    ):
        for name in type(getattr(default, nested)).model_fields:
            expected = sent_values.get(
                name, saved_values.get(name, getattr(getattr(default, nested), name))
            )
            assert getattr(getattr(applied, nested), name) == expected, (nested, name)
    # What the request itself carries is untouched.
    assert (applied.prompt, applied.sketch_upload_id) == (request.prompt, SKETCH_UPLOAD)


@given(
    created_at=st.from_regex(
        r"2026-1[0-2]-[0-2][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\+00:00", fullmatch=True
    ),
    job_id=st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
    owner=st.text(min_size=1, max_size=40),
    other=st.text(min_size=1, max_size=40),
    status=st.none() | st.sampled_from(list(JobStatus)),
)
def test_a_cursor_opens_its_page_for_its_user_and_status_only(
    created_at: str, job_id: str, owner: str, other: str, status: JobStatus | None
) -> None:
    cursor = encode_cursor((created_at, job_id), user_id=owner, status=status)

    assert decode_cursor(cursor, user_id=owner, status=status) == (created_at, job_id)
    if other != owner:
        try:
            decode_cursor(cursor, user_id=other, status=status)
        except InvalidRequestError:
            pass
        else:
            raise AssertionError("another user's cursor was accepted")

"""POST /uploads and sketch_upload_id: a big sketch by presigned form, for its owner only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sketchbridge.domain.errors import ImageTooLargeError, NotFoundError
from sketchbridge.domain.models import EstimateRequest, GenerationRequest, UploadRequest
from sketchbridge.preprocessing.decode import MAX_SKETCH_BYTES
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.submit_generation import submit_generation
from sketchbridge.services.uploads import create_upload, upload_key
from tests.support.fakes import SKETCHES, fake_dependencies, sketch_data_url

TURTLE = (SKETCHES / "turtle.png").read_bytes()


@pytest.fixture
def deps() -> Dependencies:
    return fake_dependencies()


def _uploaded(deps: Dependencies, user: str, data: bytes = TURTLE) -> str:
    """Ask for a form as ``user`` and do what the client does with it: store the bytes."""
    form = create_upload(UploadRequest(content_type="image/png"), user_id=user, deps=deps)
    deps.objects.put(form.fields["key"], data, content_type="image/png")
    return form.upload_id


def _from_upload(upload_id: str, **fields: object) -> GenerationRequest:
    body = {"sketch_upload_id": upload_id, "prompt": "a sea turtle, watercolor", **fields}
    return GenerationRequest.model_validate(body)


def test_a_form_is_for_one_key_under_the_callers_prefix_of_one_type(deps: Dependencies) -> None:
    ada = create_upload(UploadRequest(content_type="image/webp"), user_id="ada", deps=deps)
    bob = create_upload(UploadRequest(content_type="image/webp"), user_id="bob", deps=deps)

    assert ada.fields["key"] == upload_key("ada", ada.upload_id)
    assert ada.fields["key"].rsplit("/", 1)[0] != bob.fields["key"].rsplit("/", 1)[0]
    assert ada.fields["Content-Type"] == ada.content_type == "image/webp"
    assert ada.max_bytes == int(ada.fields["max_bytes"]) == MAX_SKETCH_BYTES
    assert ada.expires_in <= 300
    assert ada.upload_id != bob.upload_id


def test_a_user_id_with_slashes_cannot_reach_into_another_users_prefix() -> None:
    upload_id = "0" * 32
    assert upload_key("ada/../bob", upload_id).count("/") == 2
    assert upload_key("ada/../bob", upload_id) != upload_key("bob", upload_id)


def test_an_uploaded_sketch_is_prepared_exactly_like_the_same_data_url(
    deps: Dependencies,
) -> None:
    by_upload = submit_generation(_from_upload(_uploaded(deps, "ada")), user_id="ada", deps=deps)
    by_data_url = submit_generation(
        GenerationRequest(sketch=sketch_data_url(), prompt="a sea turtle, watercolor"),
        user_id="ada",
        deps=deps,
    )

    stored = [deps.jobs.get(job.id) for job in (by_upload, by_data_url)]
    assert stored[0] is not None and stored[1] is not None
    assert deps.objects.get(stored[0].sketch_key) == deps.objects.get(stored[1].sketch_key)
    assert (by_upload.params.width, by_upload.params.height) == (
        by_data_url.params.width,
        by_data_url.params.height,
    )


def test_another_users_upload_id_is_not_found_and_stays_unread(deps: Dependencies) -> None:
    upload_id = _uploaded(deps, "ada")

    with pytest.raises(NotFoundError, match="not yours"):
        submit_generation(_from_upload(upload_id), user_id="mallory", deps=deps)

    assert deps.jobs.records == {}  # type: ignore[attr-defined]


def test_an_upload_id_never_uploaded_is_not_found(deps: Dependencies) -> None:
    form = create_upload(UploadRequest(content_type="image/png"), user_id="ada", deps=deps)
    with pytest.raises(NotFoundError):
        submit_generation(_from_upload(form.upload_id), user_id="ada", deps=deps)


def test_an_upload_over_the_cap_is_refused_as_too_large(deps: Dependencies) -> None:
    # S3 enforces the form's content-length-range; the decoder checks again, for the
    # emulated store (moto ignores the condition) and for any object that got there anyway.
    upload_id = _uploaded(deps, "ada", TURTLE + b"\0" * MAX_SKETCH_BYTES)
    with pytest.raises(ImageTooLargeError):
        submit_generation(_from_upload(upload_id), user_id="ada", deps=deps)


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "a turtle"},
        {"prompt": "a turtle", "sketch": "data:,", "sketch_upload_id": "a" * 32},
        {"prompt": "a turtle", "sketch_upload_id": "../../results/" + "a" * 18},
        {"prompt": "a turtle", "sketch_upload_id": "A" * 32},
    ],
    ids=["neither", "both", "a path", "not lowercase hex"],
)
def test_a_generation_takes_exactly_one_well_formed_sketch(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GenerationRequest.model_validate(body)


def test_a_quote_takes_a_data_url_or_no_sketch_but_no_upload_id() -> None:
    assert EstimateRequest.model_validate({"prompt": "a turtle"}).sketch is None
    with pytest.raises(ValidationError):
        EstimateRequest.model_validate({"prompt": "a turtle", "sketch_upload_id": "a" * 32})


def test_an_upload_of_another_type_than_a_sketch_is_refused() -> None:
    with pytest.raises(ValidationError):
        UploadRequest.model_validate({"content_type": "image/svg+xml"})

from __future__ import annotations

import pytest
from PIL import Image

from sketchbridge.domain.errors import (
    EmptySketchError,
    InternalError,
    InvalidSketchError,
    UnknownProviderError,
    UnsupportedFormatError,
)
from sketchbridge.domain.models import GenerationParams, GenerationRequest, JobStatus
from sketchbridge.services.submit_generation import submit_generation
from tests.support.fakes import FakeQueue, fake_dependencies, png_data_url, sketch_data_url


def _request(**overrides: object) -> GenerationRequest:
    fields: dict[str, object] = {"sketch": sketch_data_url(), "prompt": "a sea turtle, watercolor"}
    fields.update(overrides)
    return GenerationRequest.model_validate(fields)


def test_queues_a_job_and_stores_the_sketch() -> None:
    deps = fake_dependencies()
    job = submit_generation(_request(), user_id="ada", deps=deps)

    assert job.status is JobStatus.QUEUED
    assert [m.job_id for m in deps.queue.messages] == [job.id]  # type: ignore[attr-defined]
    stored = deps.jobs.get(job.id)
    assert stored is not None and stored.user_id == "ada"
    assert stored.sketch_key in deps.objects.objects  # type: ignore[attr-defined]
    assert job.provider == "local"


def test_draws_and_records_a_seed_when_none_is_given() -> None:
    deps = fake_dependencies()
    first = submit_generation(_request(), user_id="ada", deps=deps)
    second = submit_generation(_request(), user_id="ada", deps=deps)
    assert first.params.seed != second.params.seed


def test_keeps_the_sketch_aspect_ratio_when_no_size_is_given() -> None:
    deps = fake_dependencies()
    job = submit_generation(
        _request(sketch=sketch_data_url("backpack.png")), user_id="a", deps=deps
    )
    # backpack.png is 512x640 (portrait): the longer side becomes 768.
    assert (job.params.width, job.params.height) == (616, 768)


def test_honours_explicit_parameters() -> None:
    deps = fake_dependencies()
    params = GenerationParams(seed=42, steps=7, strength=0.3, width=512, height=256)
    job = submit_generation(_request(params=params), user_id="a", deps=deps)
    assert job.params.seed == 42
    assert job.params.steps == 7
    assert (job.params.width, job.params.height) == (512, 256)


def test_same_drawing_and_request_share_a_fingerprint() -> None:
    deps = fake_dependencies()
    params = GenerationParams(seed=1)
    a = submit_generation(_request(params=params), user_id="a", deps=deps)
    b = submit_generation(
        _request(params=params, prompt="a  sea turtle, watercolor"), user_id="b", deps=deps
    )
    c = submit_generation(
        _request(params=params, prompt="a sea turtle, oil"), user_id="a", deps=deps
    )
    fingerprints = {job.id: deps.jobs.get(job.id).fingerprint for job in (a, b, c)}  # type: ignore[union-attr]
    assert fingerprints[a.id] == fingerprints[b.id] != fingerprints[c.id]


@pytest.mark.parametrize(
    ("sketch", "error"),
    [
        ("not a data url", InvalidSketchError),
        ("data:image/png;base64,@@@notbase64", InvalidSketchError),
        ("data:text/plain;base64,aGVsbG8gd29ybGQ=", UnsupportedFormatError),
        (png_data_url(Image.new("RGB", (64, 64), "red"), "GIF"), UnsupportedFormatError),
        (png_data_url(Image.new("RGB", (64, 64), "white")), EmptySketchError),
    ],
)
def test_refuses_bad_sketches_without_queueing(sketch: str, error: type[Exception]) -> None:
    deps = fake_dependencies()
    with pytest.raises(error):
        submit_generation(_request(sketch=sketch), user_id="a", deps=deps)
    assert deps.queue.messages == []  # type: ignore[attr-defined]
    assert deps.jobs.records == {}  # type: ignore[attr-defined]


def test_refuses_an_unknown_provider_and_names_the_known_ones() -> None:
    deps = fake_dependencies()
    with pytest.raises(UnknownProviderError, match="local"):
        submit_generation(_request(provider="dall-e-9"), user_id="a", deps=deps)
    assert deps.queue.messages == []  # type: ignore[attr-defined]


def test_a_job_that_cannot_be_queued_is_marked_failed_not_lost() -> None:
    deps = fake_dependencies()
    deps.queue = FakeQueue(broken=True)
    with pytest.raises(InternalError):
        submit_generation(_request(), user_id="a", deps=deps)
    (record,) = deps.jobs.records.values()  # type: ignore[attr-defined]
    assert record.status is JobStatus.FAILED
    assert record.error is not None and "submit it again" in record.error.message


def test_accepts_jpeg_and_webp_and_transparent_png() -> None:
    deps = fake_dependencies()
    drawing = Image.new("RGB", (200, 120), "white")
    drawing.paste((0, 0, 0), (20, 20, 180, 30))
    for fmt in ("JPEG", "WEBP"):
        submit_generation(_request(sketch=png_data_url(drawing, fmt)), user_id="a", deps=deps)
    submit_generation(
        _request(sketch=sketch_data_url("person-transparent.png")), user_id="a", deps=deps
    )
    assert len(deps.queue.messages) == 3  # type: ignore[attr-defined]


def test_the_same_drawing_exported_two_ways_has_one_fingerprint() -> None:
    # A canvas export with transparency and the same drawing flattened on white
    # are the same sketch: the canonical preprocessed bytes make them hash alike.
    transparent = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    from PIL import ImageDraw

    ImageDraw.Draw(transparent).ellipse((40, 40, 260, 160), outline=(0, 0, 0, 255), width=5)
    flattened = Image.alpha_composite(Image.new("RGBA", (300, 200), "white"), transparent)
    deps = fake_dependencies()
    params = GenerationParams(seed=3)
    a = submit_generation(
        _request(sketch=png_data_url(transparent), params=params), user_id="a", deps=deps
    )
    b = submit_generation(
        _request(sketch=png_data_url(flattened.convert("RGB"), "PNG"), params=params),
        user_id="a",
        deps=deps,
    )
    assert deps.jobs.get(a.id).fingerprint == deps.jobs.get(b.id).fingerprint  # type: ignore[union-attr]


def test_a_palette_hint_reaches_the_provider_prompt() -> None:
    from tests.support.fakes import FakeProvider

    seen: list[str] = []

    class RecordingProvider(FakeProvider):
        def generate(self, request, on_progress):  # type: ignore[no-untyped-def]
            seen.append(request.prompt)
            return super().generate(request, on_progress)

    from sketchbridge.services.process_job import process_job

    provider = RecordingProvider()
    deps = fake_dependencies(provider=provider)
    coloured = Image.new("RGB", (200, 200), "white")
    from PIL import ImageDraw

    draw = ImageDraw.Draw(coloured)
    draw.rectangle((20, 20, 180, 180), outline="black", width=4, fill=(220, 30, 30))
    job = submit_generation(
        _request(
            sketch=png_data_url(coloured),
            provider="fake",
            preprocessing={"palette_hint": True},
            params=GenerationParams(steps=1, width=128, height=128),
        ),
        user_id="a",
        deps=deps,
    )
    process_job(job.id, receive_count=1, deps=deps)
    assert seen and seen[0].startswith("a sea turtle, watercolor; ") and "red" in seen[0]


def test_a_resubmission_of_the_same_bytes_and_request_is_not_preprocessed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sketchbridge.services import submit_generation as submit_module

    deps = fake_dependencies()
    request = GenerationRequest(sketch=sketch_data_url(), prompt="a sea turtle", provider="local")
    first = submit_generation(request, user_id="ada", deps=deps)
    calls = []
    real = submit_module.preprocess
    monkeypatch.setattr(
        submit_module, "preprocess", lambda *a, **k: calls.append(1) or real(*a, **k)
    )

    again = submit_generation(request, user_id="ada", deps=deps)
    other_prompt = submit_generation(
        request.model_copy(update={"prompt": "a turtle"}), user_id="ada", deps=deps
    )
    other_size = submit_generation(
        request.model_copy(update={"params": GenerationParams(width=256, height=256)}),
        user_id="ada",
        deps=deps,
    )

    assert calls == [1]  # only the new size is preprocessed again
    assert again.id != first.id
    record = deps.jobs.get(again.id)
    first_record = deps.jobs.get(first.id)
    assert record is not None and first_record is not None
    assert record.fingerprint == first_record.fingerprint
    assert other_prompt.id != again.id and other_size.id != again.id

"""Invariants of the preprocessing pipeline over generated drawings and sizes."""

from __future__ import annotations

import contextlib
import io

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from sketchbridge.domain.errors import InvalidSketchError
from sketchbridge.preprocessing.decode import decode_sketch
from sketchbridge.preprocessing.fit import ProviderImageSpec, choose_provider_size, fit_for_provider
from sketchbridge.preprocessing.pipeline import preprocess
from sketchbridge.preprocessing.targets import PROVIDER_IMAGE_SPECS

specs = st.sampled_from(sorted(PROVIDER_IMAGE_SPECS.values(), key=lambda spec: spec.name))
sides = st.integers(min_value=16, max_value=1200)
rule_specs = st.builds(
    ProviderImageSpec,
    name=st.just("generated"),
    control=st.sampled_from(["scribble", "canny", "sketch"]),
    multiple=st.sampled_from([1, 8, 16, 64]),
    min_side=st.sampled_from([64, 256]),
    max_side=st.sampled_from([1024, 1536, 2048]),
    long_side=st.sampled_from([512, 768, 1024, 1536]),
    max_aspect=st.sampled_from([2.5, 4.0]),
)


def _drawing(size: tuple[int, int], lines: list[tuple[float, float, float, float]]) -> bytes:
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for x0, y0, x1, y1 in lines:
        draw.line((x0 * width, y0 * height, x1 * width, y1 * height), fill="black", width=3)
    draw.rectangle((0, 0, width - 1, height - 1), outline="black", width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


unit = st.floats(0, 1)
line_lists = st.lists(st.tuples(unit, unit, unit, unit), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(width=sides, height=sides, spec=st.one_of(specs, rule_specs))
def test_the_chosen_size_is_always_one_the_provider_accepts(
    width: int, height: int, spec: ProviderImageSpec
) -> None:
    assert spec.accepts(choose_provider_size((width, height), spec))


@settings(max_examples=200, deadline=None)
@given(width=sides, height=sides, spec=st.one_of(specs, rule_specs))
def test_choosing_a_size_for_a_chosen_size_keeps_it(
    width: int, height: int, spec: ProviderImageSpec
) -> None:
    chosen = choose_provider_size((width, height), spec)
    assert choose_provider_size(chosen, spec) == chosen


@settings(max_examples=40, deadline=None)
@given(width=st.integers(32, 600), height=st.integers(32, 600), spec=st.one_of(specs, rule_specs))
def test_padding_keeps_the_sketch_aspect_within_one_pixel(
    width: int, height: int, spec: ProviderImageSpec
) -> None:
    fitted = fit_for_provider(Image.new("RGB", (width, height), "white"), spec)
    left, top, right, bottom = fitted.content_box
    content_w, content_h = right - left, bottom - top
    assert spec.accepts(fitted.size)
    # The content is the sketch scaled by one factor; each side is off by rounding only.
    scale = min(fitted.size[0] / width, fitted.size[1] / height)
    assert abs(content_w - width * scale) <= 1 and abs(content_h - height * scale) <= 1


@settings(max_examples=25, deadline=None)
@given(
    width=st.integers(64, 700),
    height=st.integers(64, 700),
    lines=line_lists,
    spec=specs,
)
def test_preprocessed_output_is_within_provider_constraints_and_idempotent(
    width: int,
    height: int,
    lines: list[tuple[float, float, float, float]],
    spec: ProviderImageSpec,
) -> None:
    once = preprocess(decode_sketch(_drawing((width, height), lines)), target=spec)
    assert spec.accepts(once.size)
    if spec.max_bytes is not None:
        assert len(once.payload) <= spec.max_bytes
    twice = preprocess(decode_sketch(once.png), target=spec)
    assert twice.png == once.png


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=4096), spec=specs)
def test_arbitrary_bytes_only_ever_raise_documented_input_errors(
    data: bytes, spec: ProviderImageSpec
) -> None:
    with contextlib.suppress(InvalidSketchError):
        preprocess(decode_sketch(data), target=spec, text_mode="remove", palette=True)


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(8, 2000), flip=st.integers(0, 2000), lines=line_lists)
def test_damaged_real_images_only_ever_raise_documented_input_errors(
    cut: int, flip: int, lines: list[tuple[float, float, float, float]]
) -> None:
    data = bytearray(_drawing((120, 90), lines))
    data[flip % len(data)] ^= 0x5A
    with contextlib.suppress(InvalidSketchError):
        decode_sketch(bytes(data[: max(8, len(data) - cut)]))

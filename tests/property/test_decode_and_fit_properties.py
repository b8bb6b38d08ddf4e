from __future__ import annotations

import contextlib
import io

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from sketchbridge.domain.errors import InvalidSketchError
from sketchbridge.domain.fingerprint import fingerprint
from sketchbridge.preprocessing.decode import decode_sketch
from sketchbridge.preprocessing.fit import choose_output_size

sides = st.integers(min_value=16, max_value=3000)


@given(sketch_w=sides, sketch_h=sides, multiple=st.sampled_from([8, 16, 64]))
def test_default_size_keeps_the_sketch_shape_within_rounding(
    sketch_w: int, sketch_h: int, multiple: int
) -> None:
    width, height = choose_output_size(
        (sketch_w, sketch_h), width=None, height=None, min_side=64, max_side=2048, multiple=multiple
    )
    assert width % multiple == 0 and height % multiple == 0
    assert 64 <= width <= 2048 and 64 <= height <= 2048
    if min(sketch_w, sketch_h) >= 64 * 4 and max(sketch_w, sketch_h) <= 4 * min(sketch_w, sketch_h):
        # Not clamped by the bounds: the aspect ratio is kept to within the rounding.
        assert abs(width / height - sketch_w / sketch_h) <= (multiple / min(width, height)) * 2


@given(
    width=st.one_of(st.none(), st.integers(64, 2048)),
    height=st.one_of(st.none(), st.integers(64, 2048)),
)
def test_any_requested_size_lands_within_the_provider_bounds(
    width: int | None, height: int | None
) -> None:
    out = choose_output_size(
        (512, 640), width=width, height=height, min_side=256, max_side=1536, multiple=64
    )
    assert all(256 <= side <= 1536 and side % 64 == 0 for side in out)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_only_ever_raise_documented_input_errors(data: bytes) -> None:
    with contextlib.suppress(InvalidSketchError):
        decode_sketch(data)


@settings(max_examples=25, deadline=None)
@given(
    lines=st.lists(
        st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)),
        min_size=1,
        max_size=8,
    ),
    fmt=st.sampled_from(["PNG", "WEBP"]),
)
def test_a_drawn_sketch_decodes_to_rgb_of_the_same_size(
    lines: list[tuple[int, int, int, int]], fmt: str
) -> None:
    image = Image.new("RGB", (100, 100), "white")
    draw = ImageDraw.Draw(image)
    for x0, y0, x1, y1 in lines:
        draw.line((x0, y0, x1, y1), fill="black", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, lossless=True) if fmt == "WEBP" else image.save(
        buffer, format=fmt
    )
    decoded = decode_sketch(buffer.getvalue())
    assert decoded.image.mode == "RGB" and decoded.image.size == (100, 100)


requests = st.fixed_dictionaries(
    {
        "prompt": st.text(min_size=1, max_size=30),
        "params": st.fixed_dictionaries(
            {
                "seed": st.integers(0, 2**32 - 1),
                "strength": st.floats(0, 1),
                "steps": st.integers(1, 100),
            }
        ),
    }
)


@given(request=requests)
def test_fingerprint_ignores_key_order_and_float_spelling(request: dict[str, object]) -> None:
    reordered = {
        "params": dict(reversed(list(request["params"].items()))),
        "prompt": request["prompt"],
    }  # type: ignore[union-attr]
    assert fingerprint(sketch_sha256="a", request=request) == fingerprint(
        sketch_sha256="a", request=reordered
    )
    params = dict(request["params"])  # type: ignore[call-overload]
    params["strength"] = float(f"{params['strength']:.12f}")
    respelled = {**request, "params": params}
    assert fingerprint(sketch_sha256="a", request=request) == fingerprint(
        sketch_sha256="a", request=respelled
    )


@given(request=requests, other_seed=st.integers(0, 2**32 - 1))
def test_fingerprint_changes_with_anything_that_changes_the_image(
    request: dict[str, object], other_seed: int
) -> None:
    params = dict(request["params"])  # type: ignore[call-overload]
    if params["seed"] == other_seed:
        return
    changed = {**request, "params": {**params, "seed": other_seed}}
    assert fingerprint(sketch_sha256="a", request=request) != fingerprint(
        sketch_sha256="a", request=changed
    )
    assert fingerprint(sketch_sha256="a", request=request) != fingerprint(
        sketch_sha256="b", request=request
    )

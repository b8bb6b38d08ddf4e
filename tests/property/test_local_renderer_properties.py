"""Whatever is drawn, the offline renderer answers with the picture that was asked for."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from sketchbridge.providers.local_renderer import MAX_SIDE, MIN_SIDE, render_sketch

PROMPT_WORDS = ["turtle", "red", "sea", "sunset", "watercolor", "pencil", "neon", "night", "dark"]


@dataclass(frozen=True)
class Stroke:
    kind: str
    box: tuple[int, int, int, int]
    width: int
    ink: int


@st.composite
def sketches(draw: st.DrawFn) -> Image.Image:
    """Small pictures of random lines and ellipses, dark on light paper, or a blank page."""
    width = draw(st.integers(8, 160))
    height = draw(st.integers(8, 160))
    paper = draw(st.integers(180, 255))
    image = Image.new("RGB", (width, height), (paper, paper, paper))
    pen = ImageDraw.Draw(image)
    coordinates = st.tuples(
        st.integers(-10, width + 10),
        st.integers(-10, height + 10),
        st.integers(-10, width + 10),
        st.integers(-10, height + 10),
    )
    strokes = draw(
        st.lists(
            st.builds(
                Stroke,
                kind=st.sampled_from(["line", "ellipse"]),
                box=coordinates,
                width=st.integers(1, 6),
                ink=st.integers(0, 120),
            ),
            max_size=8,
        )
    )
    for stroke in strokes:
        x0, y0, x1, y1 = stroke.box
        colour = (stroke.ink, stroke.ink, stroke.ink)
        if stroke.kind == "line":
            pen.line((x0, y0, x1, y1), fill=colour, width=stroke.width)
        else:
            box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            pen.ellipse(box, outline=colour, width=stroke.width)
    return image


sides = st.integers(MIN_SIDE, 200)
prompts = st.lists(st.sampled_from(PROMPT_WORDS), max_size=4).map(" ".join)


@settings(max_examples=40, deadline=None)
@given(
    sketch=sketches(),
    prompt=prompts,
    seed=st.integers(-(2**63), 2**63),
    steps=st.integers(1, 60),
    strength=st.floats(0.0, 1.0),
    width=sides,
    height=sides,
)
def test_always_answers_with_the_requested_size_in_rgb(
    sketch: Image.Image,
    prompt: str,
    seed: int,
    steps: int,
    strength: float,
    width: int,
    height: int,
) -> None:
    reported: list[int] = []

    result = render_sketch(
        sketch,
        prompt,
        seed=seed,
        steps=steps,
        strength=strength,
        width=width,
        height=height,
        on_step=lambda step, _total: reported.append(step),
    )

    assert result.mode == "RGB"
    assert result.size == (width, height)
    assert reported == list(range(1, steps + 1))


@settings(max_examples=15, deadline=None)
@given(sketch=sketches(), prompt=prompts, seed=st.integers(0, 2**32))
def test_the_same_request_always_gives_the_same_picture(
    sketch: Image.Image, prompt: str, seed: int
) -> None:
    def render() -> bytes:
        return render_sketch(
            sketch, prompt, seed=seed, steps=5, strength=0.7, width=96, height=80
        ).tobytes()

    assert render() == render()


@settings(max_examples=5, deadline=None)
@given(sketch=sketches(), width=st.sampled_from([MIN_SIDE, MAX_SIDE]))
def test_handles_the_smallest_and_largest_sizes(sketch: Image.Image, width: int) -> None:
    result = render_sketch(
        sketch, "a red thing", seed=1, steps=1, strength=1.0, width=width, height=MIN_SIDE
    )

    assert result.size == (width, MIN_SIDE)

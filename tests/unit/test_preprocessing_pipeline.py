"""The whole pipeline on the real sketches, for every provider's image spec."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from sketchbridge.preprocessing.decode import decode_sketch
from sketchbridge.preprocessing.fit import ProviderImageSpec
from sketchbridge.preprocessing.pipeline import preprocess
from sketchbridge.preprocessing.report import preprocess_file
from sketchbridge.preprocessing.targets import PROVIDER_IMAGE_SPECS, spec_for
from tests.support.fakes import SKETCHES

SKETCH_NAMES = ["backpack.png", "balloon.png", "person-transparent.png", "turtle.png"]
SPECS = sorted(PROVIDER_IMAGE_SPECS)


def _decoded(name: str):  # type: ignore[no-untyped-def]
    return decode_sketch((SKETCHES / name).read_bytes())


@pytest.mark.parametrize("sketch", SKETCH_NAMES)
@pytest.mark.parametrize("provider", SPECS)
def test_every_sketch_fits_every_provider(sketch: str, provider: str) -> None:
    spec = spec_for(provider)
    result = preprocess(_decoded(sketch), target=spec)
    assert spec.accepts(result.size)
    if spec.max_bytes is not None:
        assert len(result.payload) <= spec.max_bytes
    assert Image.open(io.BytesIO(result.png)).size == result.size


@pytest.mark.parametrize("sketch", SKETCH_NAMES)
def test_scribble_map_is_white_lines_on_black(sketch: str) -> None:
    result = preprocess(_decoded(sketch), target=spec_for("replicate-controlnet-scribble"))
    grey = np.asarray(result.image)
    assert set(np.unique(grey)) <= {0, 255}
    assert 0.01 < (grey == 255).mean() < 0.4  # lines, not a filled shape
    assert "scribble_map" in result.steps


def test_edge_map_lines_are_thinner_than_scribble_lines() -> None:
    decoded = _decoded("backpack.png")
    same_size = {"long_side": 768, "max_side": 1024, "min_side": 256, "multiple": 64}
    scribble = preprocess(
        decoded, target=ProviderImageSpec(name="s", control="scribble", **same_size)
    )
    edges = preprocess(decoded, target=ProviderImageSpec(name="c", control="canny", **same_size))
    assert (np.asarray(edges.image) == 255).mean() < (np.asarray(scribble.image) == 255).mean()


def test_line_width_follows_the_output_size_not_the_input_size() -> None:
    small = Image.new("RGB", (256, 256), "white")
    ImageDraw.Draw(small).line((20, 128, 236, 128), fill="black", width=2)
    large = Image.new("RGB", (1024, 1024), "white")
    ImageDraw.Draw(large).line((80, 512, 944, 512), fill="black", width=16)
    spec = ProviderImageSpec(name="s", control="scribble", long_side=768, multiple=64)

    def stroke_width(image: Image.Image) -> int:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        column = np.asarray(preprocess(decode_sketch(buffer.getvalue()), target=spec).image)
        return int((column[:, 384] == 255).sum())

    assert abs(stroke_width(small) - stroke_width(large)) <= 2


def test_the_same_drawing_always_gives_the_same_bytes() -> None:
    data = (SKETCHES / "turtle.png").read_bytes()
    spec = spec_for("replicate-flux-canny")
    first = preprocess(decode_sketch(data), target=spec)
    second = preprocess(decode_sketch(data), target=spec)
    assert first.png == second.png and first.settings == second.settings


@pytest.mark.parametrize("provider", SPECS)
def test_preprocessing_its_own_output_changes_nothing(provider: str) -> None:
    spec = spec_for(provider)
    once = preprocess(_decoded("balloon.png"), target=spec)
    twice = preprocess(decode_sketch(once.png), target=spec)
    assert twice.png == once.png


def test_faint_pencil_gets_full_contrast() -> None:
    faint = Image.new("RGB", (300, 300), (250, 250, 250))
    ImageDraw.Draw(faint).ellipse((50, 50, 250, 250), outline=(205, 205, 205), width=3)
    buffer = io.BytesIO()
    faint.save(buffer, format="PNG")
    result = preprocess(decode_sketch(buffer.getvalue()), target=spec_for("local"))
    grey = np.asarray(result.image.convert("L"))
    assert "stretch_contrast" in result.steps
    assert grey.min() < 40 and np.median(grey) == 255


def test_specks_are_removed_but_the_drawing_stays() -> None:
    noisy = Image.new("RGB", (400, 400), "white")
    draw = ImageDraw.Draw(noisy)
    draw.rectangle((100, 100, 300, 300), outline="black", width=4)
    for x, y in [(20, 20), (380, 40), (50, 350), (360, 370)]:
        draw.point((x, y), fill="black")
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    spec = ProviderImageSpec(name="same-size", control="sketch", long_side=400, multiple=8)
    result = preprocess(decode_sketch(buffer.getvalue()), target=spec)
    grey = np.asarray(result.image.convert("L"))
    assert "remove_specks" in result.steps
    assert grey[20, 20] == 255 and grey[370, 360] == 255
    assert grey[100, 200] < 60


def test_chalkboard_sketch_is_turned_to_dark_on_light() -> None:
    board = Image.new("RGB", (300, 200), (20, 30, 25))
    ImageDraw.Draw(board).line((20, 100, 280, 100), fill="white", width=5)
    buffer = io.BytesIO()
    board.save(buffer, format="PNG")
    result = preprocess(decode_sketch(buffer.getvalue()), target=spec_for("local"))
    assert "invert_dark_paper" in result.steps
    assert np.median(np.asarray(result.image.convert("L"))) > 200


def test_crop_fills_the_frame_and_pad_keeps_everything() -> None:
    wide = Image.new("RGB", (900, 300), "white")
    ImageDraw.Draw(wide).line((0, 150, 899, 150), fill="black", width=6)
    buffer = io.BytesIO()
    wide.save(buffer, format="PNG")
    decoded = decode_sketch(buffer.getvalue())
    openai = spec_for("openai")
    padded = preprocess(decoded, target=openai)
    cropped = preprocess(decoded, target=openai, fit_mode="crop")
    assert padded.size == cropped.size == (1536, 1024)
    padded_row = np.asarray(padded.image.convert("L"))[512]
    assert padded_row[0] < 60 and padded_row[-1] < 60  # the whole line survived padding
    assert np.asarray(padded.image.convert("L"))[5, 768] == 255  # padded with paper


def test_palette_names_the_colours_filled_in() -> None:
    coloured = Image.new("RGB", (400, 400), "white")
    draw = ImageDraw.Draw(coloured)
    draw.rectangle((40, 40, 200, 200), fill=(230, 30, 30), outline="black", width=3)
    draw.ellipse((220, 220, 380, 380), fill=(40, 90, 220), outline="black", width=3)
    buffer = io.BytesIO()
    coloured.save(buffer, format="PNG")
    result = preprocess(decode_sketch(buffer.getvalue()), target=spec_for("local"), palette=True)
    names = [colour.name for colour in result.palette]
    assert names[:2] == ["red", "blue"]
    assert result.prompt_hint == "colour palette: red and blue"


def test_black_and_white_sketch_has_no_palette_hint() -> None:
    result = preprocess(_decoded("turtle.png"), target=spec_for("local"), palette=True)
    assert result.palette == () and result.prompt_hint is None


def _labelled_sketch() -> bytes:
    image = Image.open(SKETCHES / "turtle.png").convert("RGB")
    font = ImageFont.truetype("DejaVuSans.ttf", 30)
    ImageDraw.Draw(image).text((20, 20), "SEA TURTLE", fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_remove_erases_the_label_before_it_reaches_the_provider() -> None:
    decoded = decode_sketch(_labelled_sketch())
    spec = ProviderImageSpec(name="same-size", control="sketch", long_side=512, multiple=8)
    kept = preprocess(decoded, target=spec, text_mode="keep")
    removed = preprocess(decoded, target=spec, text_mode="remove")
    label_area = (slice(20, 60), slice(20, 210))
    assert np.asarray(kept.image.convert("L"))[label_area].min() < 60
    assert np.asarray(removed.image.convert("L"))[label_area].min() == 255
    assert removed.text_regions and removed.settings["text"] == "remove"


def test_report_writes_the_provider_image_and_describes_it(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    report = preprocess_file(
        SKETCHES / "backpack.png",
        out,
        provider_spec=spec_for("replicate-controlnet-scribble"),
        text_mode="remove",
        palette=True,
    )
    with Image.open(out) as written:
        written_size = written.size
    assert written_size == (report["output"]["width"], report["output"]["height"])
    assert report["input"]["size"] == [512, 640]
    assert "scribble_map" in report["steps"]
    assert report["timings_ms"]["total"] > 0
    json.dumps(report)  # the CLI prints it as is

// The drawing canvas: strokes with a mouse, pen or finger, undo, clear, a loaded image to
// draw over, and a sample sketch for trying the page at once (or from the keyboard).

const DEFAULT_SIDE = 512;

// A house under a sun, in normalised coordinates.
const SAMPLE = [
  [[0.2, 0.55], [0.5, 0.3], [0.8, 0.55]],
  [[0.25, 0.52], [0.25, 0.85], [0.75, 0.85], [0.75, 0.52]],
  [[0.44, 0.85], [0.44, 0.68], [0.56, 0.68], [0.56, 0.85]],
  [[0.31, 0.6], [0.39, 0.6], [0.39, 0.68], [0.31, 0.68], [0.31, 0.6]],
  [[0.61, 0.6], [0.69, 0.6], [0.69, 0.68], [0.61, 0.68], [0.61, 0.6]],
  [[0.05, 0.85], [0.95, 0.85]],
  Array.from({ length: 25 }, (_, i) => [0.84 + 0.07 * Math.cos(i / 3.8), 0.16 + 0.07 * Math.sin(i / 3.8)]),
];

// `onChange()` is called when the drawing's size changes (quotes depend on it).
export function setupSketch(elements, { onChange = () => {}, onBadFile = () => {} } = {}) {
  const { canvas, lineWidth, lineWidthValue, undoButton, clearButton, sampleButton, fileInput } = elements;
  const pen = canvas.getContext("2d");
  // Everything drawn is a list of actions, replayed on each undo; "clear" is one too.
  const actions = [];
  let stroke = null;

  const visibleActions = () => {
    const lastClear = actions.map((a) => a.kind).lastIndexOf("clear");
    return actions.slice(lastClear + 1);
  };

  function drawStroke({ points, width }) {
    pen.strokeStyle = "#000";
    pen.fillStyle = "#000";
    pen.lineWidth = width;
    pen.lineCap = "round";
    pen.lineJoin = "round";
    if (points.length === 1) {
      pen.beginPath();
      pen.arc(points[0][0], points[0][1], width / 2, 0, 2 * Math.PI);
      pen.fill();
      return;
    }
    pen.beginPath();
    pen.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) pen.lineTo(x, y);
    pen.stroke();
  }

  function redraw() {
    const shown = visibleActions();
    const image = [...shown].reverse().find((a) => a.kind === "image");
    const [width, height] = image ? [image.width, image.height] : [DEFAULT_SIDE, DEFAULT_SIDE];
    const resized = canvas.width !== width || canvas.height !== height;
    if (resized) {
      canvas.width = width;
      canvas.height = height;
    }
    pen.fillStyle = "#fff";
    pen.fillRect(0, 0, width, height);
    for (const action of shown) {
      if (action.kind === "image") pen.drawImage(action.bitmap, 0, 0, width, height);
      else if (action.kind === "stroke") drawStroke(action);
    }
    if (resized) onChange();
  }

  const canvasPoint = (event) => {
    const box = canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) / box.width) * canvas.width,
      ((event.clientY - box.top) / box.height) * canvas.height,
    ];
  };

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    stroke = { kind: "stroke", width: Number(lineWidth.value), points: [canvasPoint(event)] };
    actions.push(stroke);
    redraw();
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!stroke) return;
    stroke.points.push(canvasPoint(event));
    redraw();
  });
  for (const type of ["pointerup", "pointercancel"]) {
    canvas.addEventListener(type, () => { stroke = null; });
  }

  const undo = () => {
    if (actions.length === 0) return;
    actions.pop();
    redraw();
  };
  lineWidth.addEventListener("input", () => { lineWidthValue.textContent = `${lineWidth.value} px`; });
  undoButton.addEventListener("click", undo);
  clearButton.addEventListener("click", () => {
    if (visibleActions().length) { actions.push({ kind: "clear" }); redraw(); }
  });
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && !typing) {
      event.preventDefault();
      undo();
    }
  });

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    try {
      const bitmap = await createImageBitmap(file);
      // Keep the image's shape, long side at most 1024 px: the output follows the sketch's aspect.
      const scale = Math.min(1, 1024 / Math.max(bitmap.width, bitmap.height));
      actions.push({
        kind: "image", bitmap,
        width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale),
      });
      redraw();
    } catch {
      onBadFile(file.name);
    }
  });

  const drawSample = () => {
    actions.push({ kind: "clear" });
    for (const points of SAMPLE) {
      actions.push({ kind: "stroke", width: 5, points: points.map(([x, y]) => [x * DEFAULT_SIDE, y * DEFAULT_SIDE]) });
    }
    redraw();
  };
  sampleButton.addEventListener("click", drawSample);

  redraw();
  return {
    hasInk: () => visibleActions().length > 0,
    dataUrl: () => canvas.toDataURL("image/png"),
    size: () => ({ width: canvas.width, height: canvas.height }),
    drawSample,
  };
}

// The shared drawing board: a <canvas> both players draw on. Points travel as fractions of the
// board (0..1), so every screen size shows the same picture. Keyboard: focus the board, move
// the pen with the arrow keys, press Space or Enter to put the pen down and again to lift it.
const WIDTHS = [{ value: 3, label: "Thin" }, { value: 8, label: "Medium" }, { value: 16, label: "Thick" }];
const MAX_POINTS = 500;
const STEP = 0.02;

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "className") node.className = value;
    else node.setAttribute(name, String(value));
  }
  if (text) node.textContent = text;
  return node;
}

function strokeId() {
  const bytes = new Uint8Array(9);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function createDrawingBoard(container, ctx) {
  const palette = ctx.catalogue.palette;
  let colour = palette.find((p) => p.name === "blue") ? "blue" : palette[0].name;
  let width = 8;
  let current = null; // the stroke being drawn here: {color, width, points}
  let game = null;
  let c = ctx;
  let cursor = [0.5, 0.5];

  const tools = el("div", { className: "draw__tools" });
  const colours = el("div", { className: "draw__colours", role: "group", "aria-label": "Pen colour" });
  const colourButtons = palette.map((p) => {
    const button = el("button", { type: "button", className: `draw__colour draw__colour--${p.name}`, "aria-pressed": String(p.name === colour) });
    button.append(el("span", { className: "visually-hidden" }, p.name.replace(/_/g, " ")));
    button.dataset.colour = p.name;
    button.addEventListener("click", () => {
      colour = p.name;
      colourButtons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.colour === colour)));
    });
    colours.append(button);
    return button;
  });
  const widthLabel = el("label", { className: "draw__width" }, "Pen size ");
  const widthSelect = el("select", {});
  WIDTHS.forEach((w) => {
    const option = el("option", { value: w.value }, w.label);
    if (w.value === width) option.selected = true;
    widthSelect.append(option);
  });
  widthSelect.addEventListener("change", () => { width = Number(widthSelect.value); });
  widthLabel.append(widthSelect);
  const undo = el("button", { type: "button", className: "button" }, "Undo my last line");
  undo.addEventListener("click", () => { if (undo.getAttribute("aria-disabled") !== "true") c.sendMove({ kind: "undo" }, { retryStale: true }); });
  tools.append(colours, widthLabel, undo);
  if (ctx.role === "therapist") {
    const clear = el("button", { type: "button", className: "button button--danger", "data-clear": "" }, "Clear the board");
    clear.addEventListener("click", () => c.sendMove({ kind: "clear" }, { retryStale: true }));
    tools.append(clear);
  }

  const canvas = el("canvas", {
    className: "draw__canvas", width: 800, height: 600, tabindex: 0, role: "img", "data-strokes": "0",
    "aria-label": "Drawing board. Draw with a mouse, finger or pen. With the keyboard: arrow keys move the pen, Space or Enter puts it down and lifts it.",
  });
  const summary = el("p", { className: "games-legend", "data-draw-summary": "" });
  container.append(tools, canvas, summary);
  const g2d = canvas.getContext("2d");

  function hex(name) {
    const entry = palette.find((p) => p.name === name);
    return entry ? entry.hex : "#000000";
  }

  function paintStroke(stroke) {
    const pts = stroke.points;
    if (!pts.length) return;
    g2d.strokeStyle = hex(stroke.color);
    g2d.lineWidth = stroke.width;
    g2d.lineCap = "round";
    g2d.lineJoin = "round";
    g2d.beginPath();
    g2d.moveTo(pts[0][0] * canvas.width, pts[0][1] * canvas.height);
    for (const [x, y] of pts.slice(1)) g2d.lineTo(x * canvas.width, y * canvas.height);
    if (pts.length === 2 && pts[0][0] === pts[1][0] && pts[0][1] === pts[1][1]) g2d.lineTo(pts[0][0] * canvas.width + 0.1, pts[0][1] * canvas.height);
    g2d.stroke();
  }

  function paint() {
    g2d.fillStyle = "#ffffff";
    g2d.fillRect(0, 0, canvas.width, canvas.height);
    const strokes = game ? game.state.strokes : [];
    strokes.forEach(paintStroke);
    if (current) paintStroke(current);
    if (document.activeElement === canvas) {
      // The keyboard pen: a ring that shows where the next point goes.
      g2d.strokeStyle = "#1b1f24";
      g2d.lineWidth = 2;
      g2d.beginPath();
      g2d.arc(cursor[0] * canvas.width, cursor[1] * canvas.height, 8, 0, Math.PI * 2);
      g2d.stroke();
    }
  }

  function canDraw() { return c.canAct; }

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
  }

  function finish() {
    if (!current) return;
    const stroke = current;
    current = null;
    if (stroke.points.length === 1) stroke.points.push([...stroke.points[0]]);
    const round = (v) => Math.round(v * 10000) / 10000;
    c.sendMove({ kind: "stroke", stroke_id: strokeId(), color: stroke.color, width: stroke.width,
      points: stroke.points.map(([x, y]) => [round(x), round(y)]) }, { retryStale: true });
  }

  function addPoint(p) {
    if (!current) return;
    const last = current.points[current.points.length - 1];
    if (last && Math.abs(last[0] - p[0]) < 0.002 && Math.abs(last[1] - p[1]) < 0.002) return;
    current.points.push(p);
    if (current.points.length >= MAX_POINTS) {
      // A long line goes in pieces: send this one and carry on from its last point.
      const { color, width: w } = current;
      finish();
      current = { color, width: w, points: [p] };
    }
    paint();
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!canDraw()) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = { color: colour, width, points: [point(event)] };
    paint();
  });
  canvas.addEventListener("pointermove", (event) => { if (current && !current.keyboard) addPoint(point(event)); });
  canvas.addEventListener("pointerup", () => { if (current && !current.keyboard) finish(); paint(); });
  canvas.addEventListener("pointercancel", () => { if (current && !current.keyboard) finish(); paint(); });
  canvas.addEventListener("focus", paint);
  canvas.addEventListener("blur", () => { if (current && current.keyboard) finish(); paint(); });
  canvas.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] };
    if (event.key in moves) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      cursor = [Math.min(1, Math.max(0, cursor[0] + dx)), Math.min(1, Math.max(0, cursor[1] + dy))];
      if (current && current.keyboard) addPoint([...cursor]);
      else paint();
    } else if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      if (current && current.keyboard) {
        finish();
        c.announce("Pen up.");
      } else if (canDraw()) {
        current = { color: colour, width, points: [[...cursor]], keyboard: true };
        c.announce("Pen down. Move it with the arrow keys.");
      }
      paint();
    }
  });

  return {
    update(next, nextCtx) {
      game = next;
      c = nextCtx;
      const strokes = game.state.strokes;
      const mine = strokes.filter((s) => s.player === c.role).length;
      canvas.dataset.strokes = String(strokes.length);
      undo.setAttribute("aria-disabled", String(!c.canAct || mine === 0));
      const other = c.role === "therapist" ? "student" : "therapist";
      summary.textContent = `${strokes.length} ${strokes.length === 1 ? "line" : "lines"} on the board: ${mine} by you, ${strokes.length - mine} by the ${other}.`;
      paint();
      for (const event of game.events || []) {
        if (event.type === "stroke" && event.player !== c.role) c.announce(`The ${other} drew a ${event.stroke.color.replace(/_/g, " ")} line.`);
        if (event.type === "clear") c.announce("The board was cleared.");
      }
    },
  };
}

// The games panel beside the call: one Socket.IO connection to /games, the therapist's
// controls, announcements for screen readers, and a board per activity (games-boards.js).
// The server holds the truth: the browser sends moves with the version it saw and a move id,
// and redraws only from the `game` events the server sends.
import { renderBoard, roleName } from "./games-boards.js";

const panel = document.getElementById("games");
if (panel) start(panel);

function start(root) {
  const role = root.dataset.role;
  const roomId = Number(root.dataset.room);
  const catalogue = JSON.parse(document.getElementById("games-data").textContent);
  const status = document.getElementById("games-status");
  const errorBox = document.getElementById("games-error");
  const title = document.getElementById("games-board-title");
  const hint = document.getElementById("games-hint");
  const boardEl = document.getElementById("games-board");
  const controls = document.getElementById("games-controls");
  let game = { status: "none" };
  let socket = null;
  let retryTimer = null;
  let closed = false;

  // Everything one update says is read out together (a move and the win it made, say).
  let pending = [];
  function announce(text) {
    if (!text) return;
    if (!pending.length) {
      status.textContent = ""; // so the same words are read again when they come again
      window.setTimeout(() => { status.textContent = pending.join(" "); pending = []; }, 30);
    }
    if (!pending.includes(text)) pending.push(text);
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Send a move made on the version on screen. Drawing strokes and card draws have no turns,
  // so when the other player changed the game first ("stale") they are resent on the new version.
  function sendMove(move, { retryStale = false, attempts = 4 } = {}) {
    if (!socket || game.status === "none") return;
    const payload = { version: game.version, move_id: newId(), move };
    socket.emit("move", payload, (answer) => {
      if (answer && answer.ok === false && answer.code === "stale" && retryStale && attempts > 0) {
        showError("");
        window.setTimeout(() => sendMove(move, { retryStale, attempts: attempts - 1 }), 50);
      }
    });
  }

  function control(name, payload = {}) {
    if (socket) socket.emit(name, payload);
  }

  function firstPlayer() {
    const checked = root.querySelector('input[name="games-first"]:checked');
    return checked ? checked.value : "student";
  }

  if (controls) {
    controls.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-control]");
      if (!button || button.disabled) return;
      const action = button.dataset.control;
      if (action === "start") {
        control("start", { game: document.getElementById("games-choice").value, first_player: firstPlayer() });
      } else if (action === "reset") {
        control("reset", { first_player: firstPlayer() });
      } else if (action === "pause") {
        control("pause", { paused: game.status !== "paused" });
      } else if (action === "lock") {
        control("lock", { locked: !game.locked });
      } else if (action === "end") {
        control("end", {});
      }
    });
  }

  function updateControls() {
    if (!controls) return;
    const running = game.status === "active" || game.status === "paused";
    const set = (name, enabled) => { controls.querySelector(`[data-control="${name}"]`).disabled = !enabled || closed; };
    set("start", true);
    set("reset", running);
    set("pause", running);
    set("lock", running);
    set("end", running);
    const pause = controls.querySelector('[data-control="pause"]');
    pause.setAttribute("aria-pressed", String(game.status === "paused"));
    pause.textContent = game.status === "paused" ? "Resume" : "Pause";
    const lock = controls.querySelector('[data-control="lock"]');
    lock.setAttribute("aria-pressed", String(Boolean(running && game.locked)));
    lock.textContent = running && game.locked ? "Unlock student's input" : "Lock student's input";
  }

  function describeStatus() {
    if (game.status === "none") return role === "therapist" ? "Choose an activity and press Start." : "Your therapist will start an activity soon.";
    if (game.status === "ended") return "This activity has ended.";
    if (game.status === "paused") return "Paused for a moment.";
    if (game.locked && role === "student") return "Your therapist has paused your turn for a moment.";
    return "";
  }

  // The drawing board's moves arrive as deltas (`delta: true`: the move's events, no state),
  // made on the version before. Apply them to the board on screen; when that is not the version
  // before (a message missed), ask for the whole saved board instead.
  function applyDelta(previous, payload) {
    if (!previous || previous.id !== payload.id || !previous.state || previous.version !== payload.version - 1) return null;
    let strokes = previous.state.strokes.slice();
    for (const event of payload.events || []) {
      if (event.type === "stroke") strokes.push(event.stroke);
      else if (event.type === "undo") strokes = strokes.filter((s) => s.id !== event.stroke_id);
      else if (event.type === "clear") strokes = [];
    }
    return { ...payload, state: { ...previous.state, strokes } };
  }

  function render(payload) {
    if (payload.delta) {
      const applied = applyDelta(game, payload);
      if (!applied) {
        if (socket) socket.emit("sync");
        return;
      }
      payload = applied;
    }
    const previous = game;
    game = payload;
    title.textContent = game.status === "none" ? "No activity yet" : game.title;
    hint.textContent = describeStatus();
    const canAct = game.status === "active" && !(role === "student" && game.locked);
    renderBoard(boardEl, game, { role, canAct, catalogue, sendMove, announce, previous });
    updateControls();
    for (const event of game.events || []) {
      const text = describeControlEvent(event);
      if (text) announce(text);
    }
  }

  function describeControlEvent(event) {
    switch (event.type) {
      case "started": return `${game.title} has started. ${game.state && game.state.turn ? turnText(game.state.turn) : ""}`.trim();
      case "reset": return `${game.title} started over. ${game.state && game.state.turn ? turnText(game.state.turn) : ""}`.trim();
      case "ended": return game.ended_reason === "therapist_ended" ? "The activity has ended. Thanks for playing!" : "Games have finished for this session.";
      case "paused": return "The game is paused.";
      case "resumed": return "The game is back on!";
      case "locked": return role === "student" ? "Please wait a moment — your therapist paused your turn." : "The student's input is locked.";
      case "unlocked": return role === "student" ? "You can play again!" : "The student's input is unlocked.";
      default: return "";
    }
  }

  function turnText(turn) {
    return turn === role ? "It's your turn." : `It's the ${roleName(turn, role)}'s turn.`;
  }

  function connect() {
    // Reconnection after a lost connection (a server restart): 1 s doubling to at most 5 s, each
    // delay moved by up to half of itself at random so a thousand pages do not come back at once;
    // bench/idle.py's clients do exactly this (docs/BENCHMARKS.md section 5).
    socket = window.io("/games", {
      auth: { room: roomId }, transports: ["websocket", "polling"],
      reconnection: true, reconnectionDelay: 1000, reconnectionDelayMax: 5000, randomizationFactor: 0.5,
    });
    socket.on("connect", () => { showError(""); root.dataset.connected = "true"; });
    socket.on("connect_error", (err) => {
      root.dataset.connected = "false";
      const data = err && err.data ? err.data : {};
      status.textContent = data.message || "Games are not available right now.";
      if (closed) return;
      // A refusal is final for this attempt; the room may go live (or consent arrive) later.
      window.clearTimeout(retryTimer);
      retryTimer = window.setTimeout(() => { if (!closed) socket.connect(); }, data.code === "not_live" ? 3000 : 10000);
    });
    socket.on("game", (payload) => render(payload));
    socket.on("error", (err) => {
      if (!err) return;
      showError(err.message || "That did not work.");
      announce(err.message || "That did not work.");
    });
    const onClosed = () => {
      closed = true;
      socket.disconnect();
      root.dataset.connected = "false";
      hint.textContent = "Games have finished for this session.";
      announce("Games have finished for this session.");
      updateControls();
      if (game.status !== "none") renderBoard(boardEl, { ...game, status: "ended", events: [] }, { role, canAct: false, catalogue, sendMove, announce, previous: game });
    };
    // "closed": games are over here; "session_ended": the whole session ended (sent by the room).
    socket.on("closed", onClosed);
    socket.on("session_ended", onClosed);
    socket.on("disconnect", (reason) => {
      root.dataset.connected = "false";
      if (!closed && reason === "io server disconnect") status.textContent = "Games have finished for this session.";
    });
  }

  if (window.io) {
    connect();
  } else {
    const script = document.createElement("script");
    script.src = root.dataset.socketioSrc;
    script.addEventListener("load", connect);
    document.head.appendChild(script);
  }
}

// One board per activity. Each is drawn only from the state the server sends; a click or key
// press sends a move and waits for the server's answer. Grids use a roving tabindex: Tab reaches
// the board once, arrow keys move between squares, Enter or Space plays.
import { createDrawingBoard } from "./games-drawing.js";

const boards = new WeakMap();

export function roleName(player, me) {
  if (player === me) return "you";
  return player === "therapist" ? "therapist" : "student";
}

const SYMBOL = { therapist: "▲", student: "●" }; // shapes as well as colours

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  if (text) node.textContent = text;
  return node;
}

export function resultText(game, role) {
  const result = game.result;
  if (!result) return "";
  if (result.draw) return "It's a draw — well played, both of you!";
  if (result.winner === role) return "You won! 🎉 Great game!";
  return role === "student" ? "The therapist won this time — nice try! Want to play again?" : "The student won! 🎉 Well played!";
}

function turnLine(game, role) {
  if (game.status !== "active") return game.status === "paused" ? "Paused" : "";
  if (game.result) return "";
  const turn = game.state.turn;
  if (!turn) return "";
  return turn === role ? "Your turn!" : `Waiting for the ${roleName(turn, role)}…`;
}

// Arrow-key movement between the buttons of a grid (roving tabindex).
function rovingGrid(container, columns) {
  container.addEventListener("keydown", (event) => {
    const buttons = Array.from(container.querySelectorAll("button[data-index]"));
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };
    let next = index;
    if (event.key in moves) next = index + moves[event.key];
    else if (event.key === "Home") next = index - (index % columns);
    else if (event.key === "End") next = index - (index % columns) + columns - 1;
    else return;
    event.preventDefault();
    if (next < 0 || next >= buttons.length) return;
    focusIndex(buttons, next);
  });
  container.addEventListener("focusin", (event) => {
    const buttons = Array.from(container.querySelectorAll("button[data-index]"));
    if (buttons.includes(event.target)) buttons.forEach((b) => { b.tabIndex = b === event.target ? 0 : -1; });
  });
}

function focusIndex(buttons, index) {
  buttons.forEach((b, i) => { b.tabIndex = i === index ? 0 : -1; });
  buttons[index].focus();
}

function ensureOneTabStop(buttons) {
  if (!buttons.some((b) => b.tabIndex === 0)) buttons.forEach((b, i) => { b.tabIndex = i === 0 ? 0 : -1; });
}

function footer(container) {
  const turn = el("p", { className: "games-turn", "data-turn": "" });
  const result = el("p", { className: "games-result", "data-result": "" });
  container.append(turn, result);
  return { turn, result };
}

function announceEvents(game, ctx, describe) {
  for (const event of game.events || []) {
    const text = describe(event);
    if (text) ctx.announce(text);
  }
}

// --- tic-tac-toe --------------------------------------------------------------------------------

function ticTacToe(container, ctx) {
  const intro = el("p", { className: "games-legend" });
  const grid = el("div", { className: "ttt", role: "grid", "aria-label": "Tic-tac-toe board" });
  const cells = [];
  for (let row = 0; row < 3; row += 1) {
    const rowEl = el("div", { role: "row", className: "ttt__row" });
    for (let col = 0; col < 3; col += 1) {
      const index = row * 3 + col;
      const cellWrap = el("div", { role: "gridcell" });
      const button = el("button", { type: "button", className: "ttt__cell", "data-index": index, tabindex: index === 0 ? 0 : -1 });
      button.addEventListener("click", () => {
        if (button.getAttribute("aria-disabled") === "true") return;
        ctx.sendMove({ cell: index });
      });
      cells.push(button);
      cellWrap.append(button);
      rowEl.append(cellWrap);
    }
    grid.append(rowEl);
  }
  rovingGrid(grid, 3);
  container.append(intro, grid);
  const foot = footer(container);
  return {
    update(game, c) {
      const { role } = c;
      const state = game.state;
      const mine = state.marks[role];
      const theirs = state.marks[role === "therapist" ? "student" : "therapist"];
      intro.textContent = `You are ${mine}. The ${roleName(role === "therapist" ? "student" : "therapist", role)} is ${theirs}.`;
      const myTurn = c.canAct && state.turn === role && !game.result;
      state.board.forEach((owner, i) => {
        const button = cells[i];
        const mark = owner ? state.marks[owner] : "";
        const winning = state.line && state.line.includes(i);
        button.textContent = mark;
        button.className = `ttt__cell${mark ? ` ttt__cell--${mark.toLowerCase()}` : ""}${winning ? " is-winning" : ""}`;
        const where = `Row ${Math.floor(i / 3) + 1}, column ${(i % 3) + 1}`;
        const what = owner ? `${mark}, ${roleName(owner, role)}` : "empty";
        button.setAttribute("aria-label", `${where}: ${what}${winning ? ", winning line" : ""}`);
        button.setAttribute("aria-disabled", String(!(myTurn && !owner)));
      });
      foot.turn.textContent = turnLine(game, role);
      foot.result.textContent = resultText(game, role);
      announceEvents(game, c, (event) => {
        if (event.type === "move" && event.player !== role) return `The ${roleName(event.player, role)} put ${event.mark} in row ${Math.floor(event.cell / 3) + 1}, column ${(event.cell % 3) + 1}.`;
        if (event.type === "move") return `You put ${event.mark} in row ${Math.floor(event.cell / 3) + 1}, column ${(event.cell % 3) + 1}.`;
        if (event.type === "win" || event.type === "draw") return resultText(game, role);
        if (event.type === "turn" && event.player === role) return "Your turn!";
        return "";
      });
    },
  };
}

// --- connect four -------------------------------------------------------------------------------

function connectFour(container, ctx) {
  const legend = el("p", { className: "games-legend" });
  const drops = el("div", { className: "c4__drops", role: "grid", "aria-label": "Choose a column to drop your disc" });
  const dropRow = el("div", { role: "row", className: "c4__drop-row" });
  const dropButtons = [];
  for (let col = 0; col < 7; col += 1) {
    const wrap = el("div", { role: "gridcell" });
    const button = el("button", { type: "button", className: "c4__drop", "data-index": col, tabindex: col === 0 ? 0 : -1 }, "▼");
    button.addEventListener("click", () => {
      if (button.getAttribute("aria-disabled") === "true") return;
      ctx.sendMove({ column: col });
    });
    dropButtons.push(button);
    wrap.append(button);
    dropRow.append(wrap);
  }
  drops.append(dropRow);
  rovingGrid(drops, 7);
  const grid = el("div", { className: "c4__grid", "aria-hidden": "true" });
  const holes = [];
  for (let i = 0; i < 42; i += 1) {
    const hole = el("span", { className: "c4__hole" });
    holes.push(hole);
    grid.append(hole);
  }
  container.append(legend, drops, grid);
  const foot = footer(container);
  return {
    update(game, c) {
      const { role } = c;
      const state = game.state;
      const other = role === "therapist" ? "student" : "therapist";
      legend.textContent = `Your discs: ${SYMBOL[role]} ${role === "therapist" ? "blue triangles" : "orange circles"}. The ${roleName(other, role)}'s: ${SYMBOL[other]} ${other === "therapist" ? "blue triangles" : "orange circles"}.`;
      const line = (state.line || []).map(([r, col]) => r * 7 + col);
      state.board.forEach((rowCells, r) => rowCells.forEach((owner, col) => {
        const hole = holes[r * 7 + col];
        hole.className = `c4__hole${owner ? ` disc--${owner}` : ""}${line.includes(r * 7 + col) ? " is-winning" : ""}`;
        hole.textContent = owner ? SYMBOL[owner] : "";
      }));
      const myTurn = c.canAct && state.turn === role && !game.result;
      dropButtons.forEach((button, col) => {
        const column = state.board.map((rowCells) => rowCells[col]);
        const filled = column.filter(Boolean).reverse().map((owner) => roleName(owner, role));
        const free = 6 - filled.length;
        button.setAttribute("aria-label", `Column ${col + 1}: ${filled.length ? `from the bottom ${filled.join(", ")}` : "empty"}; ${free ? `${free} spaces left` : "full"}`);
        button.setAttribute("aria-disabled", String(!(myTurn && free > 0)));
      });
      foot.turn.textContent = turnLine(game, role);
      foot.result.textContent = resultText(game, role);
      announceEvents(game, c, (event) => {
        if (event.type === "move") return `${event.player === role ? "You" : `The ${roleName(event.player, role)}`} dropped a disc in column ${event.column + 1}.`;
        if (event.type === "win" || event.type === "draw") return resultText(game, role);
        if (event.type === "turn" && event.player === role) return "Your turn!";
        return "";
      });
    },
  };
}

// --- memory match -------------------------------------------------------------------------------

function memoryMatch(container, ctx) {
  const scores = el("p", { className: "games-legend" });
  const grid = el("div", { className: "memory", role: "grid", "aria-label": "Memory cards, 4 rows of 4" });
  const cards = [];
  for (let row = 0; row < 4; row += 1) {
    const rowEl = el("div", { role: "row", className: "memory__row" });
    for (let col = 0; col < 4; col += 1) {
      const index = row * 4 + col;
      const wrap = el("div", { role: "gridcell" });
      const button = el("button", { type: "button", className: "memory__card", "data-index": index, tabindex: index === 0 ? 0 : -1 });
      button.addEventListener("click", () => {
        if (button.getAttribute("aria-disabled") === "true") return;
        ctx.sendMove({ card: index });
      });
      cards.push(button);
      wrap.append(button);
      rowEl.append(wrap);
    }
    grid.append(rowEl);
  }
  rovingGrid(grid, 4);
  container.append(scores, grid);
  const foot = footer(container);
  return {
    update(game, c) {
      const { role, catalogue } = c;
      const state = game.state;
      const pictures = catalogue.pictures;
      const other = role === "therapist" ? "student" : "therapist";
      const pairs = (n) => `${n} ${n === 1 ? "pair" : "pairs"}`;
      scores.textContent = `You: ${pairs(state.scores[role] || 0)} · ${roleName(other, role) === "therapist" ? "Therapist" : "Student"}: ${pairs(state.scores[other] || 0)}`;
      const myTurn = c.canAct && state.turn === role && !game.result;
      state.cards.forEach((key, i) => {
        const button = cards[i];
        const owner = state.owner[i];
        const picture = key ? pictures[key] : null;
        button.textContent = picture ? picture.emoji : "?";
        button.className = `memory__card${picture ? " is-up" : ""}${owner ? ` memory__card--${owner}` : ""}`;
        if (owner) button.append(el("span", { className: "memory__owner", "aria-hidden": "true" }, SYMBOL[owner]));
        const label = picture ? `${picture.label}${owner ? `, found by ${roleName(owner, role)}` : ", face up"}` : "face down";
        button.setAttribute("aria-label", `Card ${i + 1}: ${label}`);
        const justFlipped = state.revealed.length === 1 && state.revealed[0] === i;
        button.setAttribute("aria-disabled", String(!(myTurn && !owner && !justFlipped)));
      });
      foot.turn.textContent = turnLine(game, role);
      foot.result.textContent = resultText(game, role);
      announceEvents(game, c, (event) => {
        const who = event.player === role ? "You" : `The ${roleName(event.player, role)}`;
        if (event.type === "flip") return `${who} turned over card ${event.card + 1}: ${pictures[event.picture].label}.`;
        if (event.type === "match") return `${who} found a pair of ${pictures[event.picture].label}!`;
        if (event.type === "miss") return "Not a match.";
        if (event.type === "win" || event.type === "draw") return resultText(game, role);
        if (event.type === "turn" && event.player === role) return "Your turn!";
        return "";
      });
    },
  };
}

// --- feelings cards -----------------------------------------------------------------------------

function feelingsCards(container, ctx) {
  const buttons = el("div", { className: "games-actions" });
  const draw = el("button", { type: "button", className: "button button--primary" }, "Draw a card");
  const skip = el("button", { type: "button", className: "button" }, "Skip this card");
  draw.addEventListener("click", () => { if (draw.getAttribute("aria-disabled") !== "true") ctx.sendMove({ kind: "draw" }, { retryStale: true }); });
  skip.addEventListener("click", () => { if (skip.getAttribute("aria-disabled") !== "true") ctx.sendMove({ kind: "skip" }, { retryStale: true }); });
  buttons.append(draw, skip);
  const card = el("div", { className: "feelings-card", "data-card": "" });
  const left = el("p", { className: "games-legend" });
  container.append(buttons, card, left);
  return {
    update(game, c) {
      const { role } = c;
      const state = game.state;
      draw.setAttribute("aria-disabled", String(!c.canAct));
      skip.setAttribute("aria-disabled", String(!c.canAct || !state.current));
      card.replaceChildren();
      if (state.current) {
        const feeling = state.current.feeling.replace(/_/g, " ");
        card.append(el("p", { className: "feelings-card__feeling" }, feeling[0].toUpperCase() + feeling.slice(1)),
          el("p", { className: "feelings-card__prompt" }, state.current.prompt));
        card.dataset.card = state.current.id;
      } else {
        card.append(el("p", { className: "feelings-card__prompt" }, "Press “Draw a card” to begin."));
        card.dataset.card = "";
      }
      left.textContent = `${state.remaining} cards left in the deck.`;
      announceEvents(game, c, (event) => {
        if (event.type !== "card") return "";
        const who = event.player === role ? "You" : `The ${roleName(event.player, role)}`;
        return `${who} drew a card: ${event.card.feeling}. ${event.card.prompt}`;
      });
    },
  };
}

// --- mood check-in ------------------------------------------------------------------------------

function moodCheckin(container, ctx) {
  const question = el("p", { className: "mood__question", id: "mood-question" });
  const faces = el("div", { className: "mood", role: "grid", "aria-labelledby": "mood-question" });
  const row = el("div", { role: "row", className: "mood__row" });
  const buttons = ctx.catalogue.faces.map((face, i) => {
    const wrap = el("div", { role: "gridcell" });
    const button = el("button", { type: "button", className: `mood__face mood__face--${face.value}`, "data-index": i, tabindex: i === 0 ? 0 : -1 });
    button.append(el("span", { className: "mood__emoji", "aria-hidden": "true" }, face.emoji), el("span", { className: "mood__label" }, face.label));
    button.addEventListener("click", () => {
      if (button.getAttribute("aria-disabled") === "true") return;
      ctx.sendMove({ phase: button.dataset.phase, mood: face.value });
    });
    wrap.append(button);
    row.append(wrap);
    return button;
  });
  faces.append(row);
  rovingGrid(faces, buttons.length);
  const summary = el("p", { className: "games-legend", "data-mood-summary": "" });
  container.append(question, faces, summary);
  return {
    update(game, c) {
      const { role, catalogue } = c;
      const state = game.state;
      const phase = game.ask || (state.start && !state.end ? "end" : "start");
      const done = !game.ask;
      const label = (value) => { const face = catalogue.faces.find((f) => f.value === value); return face ? `${face.emoji} ${face.label}` : ""; };
      if (role === "student") {
        if (state.start && state.end) question.textContent = "Thank you for sharing how you feel!";
        else if (done) question.textContent = "Thanks for checking in! We'll ask again at the end of the session.";
        else question.textContent = phase === "start" ? "How are you feeling right now, at the start?" : "How are you feeling now, at the end?";
      } else if (state.start && state.end) {
        question.textContent = "The student has checked in at the start and the end.";
      } else if (done) {
        question.textContent = "The student has checked in for the start. Open the mood check-in again near the end.";
      } else {
        question.textContent = `Waiting for the student to pick a face for the ${phase}.`;
      }
      buttons.forEach((button, i) => {
        const value = catalogue.faces[i].value;
        button.dataset.phase = phase;
        const shown = game.ask || (state.end ? "end" : "start"); // the face to show as picked
        const picked = state[shown] === value;
        button.setAttribute("aria-pressed", String(picked));
        button.setAttribute("aria-disabled", String(!(c.canAct && role === "student" && !done)));
      });
      const parts = [];
      if (state.start) parts.push(`Start: ${label(state.start)}`);
      if (state.end) parts.push(`End: ${label(state.end)}`);
      summary.textContent = parts.join(" · ");
      announceEvents(game, c, (event) => {
        if (event.type !== "mood") return "";
        return role === "student" ? `Thanks! You picked ${event.label}.` : `The student picked ${event.label} for the ${event.phase}.`;
      });
    },
  };
}

const RENDERERS = {
  tic_tac_toe: ticTacToe,
  connect_four: connectFour,
  memory_match: memoryMatch,
  drawing_board: createDrawingBoard,
  feelings_cards: feelingsCards,
  mood_checkin: moodCheckin,
};

export function renderBoard(container, game, ctx) {
  if (!game || game.status === "none" || !RENDERERS[game.game]) {
    container.replaceChildren();
    boards.delete(container);
    return;
  }
  let entry = boards.get(container);
  if (!entry || entry.kind !== game.game || entry.id !== game.id) {
    container.replaceChildren();
    container.dataset.game = game.game;
    entry = { kind: game.game, id: game.id, api: RENDERERS[game.game](container, ctx) };
    boards.set(container, entry);
  }
  container.dataset.status = game.status;
  entry.api.update(game, ctx);
  ensureOneTabStop(Array.from(container.querySelectorAll("[role=grid] button[data-index]")));
}

// The drum grid: one row per instrument, one cell per grid step, drawn from the score the API
// gives (GET /v1/beats/{id}/score). Cells are focusable (arrow keys move, Enter or Space adds or
// removes a hit; with Shift, an existing hit takes the chosen velocity); edits are kept here
// and sent whole as the score to render (POST /v1/render/score).

const ALWAYS = ["kick", "snare", "hat_closed", "hat_open"];  // rows to add hits to, even if empty
// Cells are 16ths, or 8th triplets where more hits fall on those; a hit off the cells (a flam,
// a 32nd) is shown in the nearest.
const STEPS = [6, 8];

export class Grid {
  constructor(element, onChange) {
    this.element = element;
    this.onChange = onChange;
    this.score = null;
    this.hits = new Map();  // "tick|instrument" -> [tick, instrument, velocity, offset_ms]
    this.original = new Map();
    this.rows = [];
    this.step = 6;
    this.columns = 0;
    this.focus = [0, 0];
  }

  get ticksPerBar() {
    const [top, bottom] = this.score.meter.split("/").map(Number);
    return (top * this.score.ticks_per_quarter * 4) / bottom;
  }

  get secondsPerTick() {
    return 60 / (this.score.bpm * this.score.ticks_per_quarter);
  }

  get durationSeconds() {
    return this.score.bars * this.ticksPerBar * this.secondsPerTick;
  }

  show(score, velocityOf) {
    this.score = score;
    this.velocityOf = velocityOf;
    this.hits = new Map(score.hits.map((h) => [`${h[0]}|${h[1]}`, h.slice()]));
    this.original = new Map([...this.hits].map(([k, h]) => [k, h.join("|")]));
    const off = (step) => score.hits.filter((h) => h[0] % step !== 0).length;
    this.step = STEPS.reduce((best, step) => (off(step) < off(best) ? step : best));
    this.columns = Math.ceil((score.bars * this.ticksPerBar) / this.step);
    const used = new Set([...ALWAYS, ...score.hits.map((h) => h[1])]);
    this.rows = score.instruments.filter((name) => used.has(name));
    this.focus = [0, 0];
    this.draw();
  }

  // The hit a cell shows: the one whose tick rounds to the cell's step.
  hitAt(row, column) {
    const instrument = this.rows[row];
    for (const hit of this.hits.values()) {
      const nearest = Math.min(this.columns - 1, Math.round(hit[0] / this.step));
      if (hit[1] === instrument && nearest === column) return hit;
    }
    return null;
  }

  draw() {
    const grid = this.element;
    grid.replaceChildren();
    grid.style.setProperty("--columns", this.columns);
    const perBar = this.ticksPerBar / this.step;
    const perBeat = this.score.ticks_per_quarter / this.step;
    this.rows.forEach((instrument, row) => {
      const line = document.createElement("div");
      line.setAttribute("role", "row");
      const head = document.createElement("div");
      head.setAttribute("role", "rowheader");
      head.className = "row-name";
      head.textContent = instrument.replace("_", " ");
      line.append(head);
      for (let column = 0; column < this.columns; column++) {
        const cell = document.createElement("div");
        cell.setAttribute("role", "gridcell");
        cell.className = "cell";
        if (column % perBar === 0) cell.classList.add("bar");
        else if (Number.isInteger(perBeat) && column % perBeat === 0) cell.classList.add("beat");
        cell.dataset.row = row;
        cell.dataset.column = column;
        cell.dataset.instrument = instrument;
        cell.dataset.tick = column * this.step;
        cell.tabIndex = row === this.focus[0] && column === this.focus[1] ? 0 : -1;
        cell.addEventListener("click", (e) => this.toggle(row, column, e.shiftKey));
        cell.addEventListener("keydown", (e) => this.key(e, row, column));
        line.append(cell);
        this.paint(cell);
      }
      grid.append(line);
    });
  }

  cell(row, column) {
    return this.element.querySelector(`[data-row="${row}"][data-column="${column}"]`);
  }

  paint(cell) {
    const row = Number(cell.dataset.row);
    const column = Number(cell.dataset.column);
    const hit = this.hitAt(row, column);
    const bar = Math.floor((column * this.step) / this.ticksPerBar) + 1;
    const step = ((column * this.step) % this.ticksPerBar) / this.step + 1;
    cell.classList.toggle("hit", hit !== null);
    cell.style.setProperty("--velocity", hit ? hit[2] / 127 : 0);
    cell.setAttribute("aria-selected", hit ? "true" : "false");
    cell.setAttribute("aria-label", `${this.rows[row].replace("_", " ")}, bar ${bar} step ${step}: `
      + (hit ? `hit, velocity ${hit[2]}` : "no hit"));
  }

  // Add or remove the hit of a cell; with setVelocity, an existing hit takes the chosen one.
  toggle(row, column, setVelocity = false) {
    const hit = this.hitAt(row, column);
    const velocity = this.velocityOf();
    if (hit && setVelocity) hit[2] = velocity;
    else if (hit) this.hits.delete(`${hit[0]}|${hit[1]}`);
    else {
      const tick = column * this.step;
      this.hits.set(`${tick}|${this.rows[row]}`, [tick, this.rows[row], velocity, 0]);
    }
    this.paint(this.cell(row, column));
    this.onChange(this.edits());
  }

  key(event, row, column) {
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    if (event.key in moves) {
      const [dr, dc] = moves[event.key];
      this.move(row + dr, column + dc);
    } else if (event.key === "Home") this.move(row, 0);
    else if (event.key === "End") this.move(row, this.columns - 1);
    else if (event.key === "Enter" || event.key === " ") this.toggle(row, column, event.shiftKey);
    else return;
    event.preventDefault();
  }

  move(row, column) {
    row = Math.max(0, Math.min(this.rows.length - 1, row));
    column = Math.max(0, Math.min(this.columns - 1, column));
    this.cell(...this.focus).tabIndex = -1;
    this.focus = [row, column];
    const cell = this.cell(row, column);
    cell.tabIndex = 0;
    cell.focus();
  }

  // How many hits differ from the score as it came.
  edits() {
    const now = new Map([...this.hits].map(([k, h]) => [k, h.join("|")]));
    let changed = 0;
    for (const key of new Set([...now.keys(), ...this.original.keys()])) {
      if (now.get(key) !== this.original.get(key)) changed++;
    }
    return changed;
  }

  // The score with the edits, as POST /v1/render/score takes it.
  edited() {
    const { instruments, ...score } = this.score;
    const hits = [...this.hits.values()].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
    return { ...score, hits };
  }

  // Where the playhead stands, in px from the grid's left, for a time in seconds (null: past the
  // bars, in the ringing tail).
  playheadLeft(seconds) {
    const column = Math.floor(seconds / this.secondsPerTick / this.step);
    if (column < 0 || column >= this.columns) return null;
    const cell = this.cell(0, column);
    const within = (seconds / this.secondsPerTick / this.step) - column;
    return cell ? cell.offsetLeft + within * cell.offsetWidth : null;
  }
}

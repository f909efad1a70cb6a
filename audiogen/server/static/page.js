// The page: the request form, jobs sent to the API and polled, the player, the grid, downloads
// and the takes made since the page was opened. Everything goes through the HTTP API (/v1/...).

import { Grid } from "./grid.js";
import { Player } from "./player.js";

const POLL_MS = 250;
const TOKEN_KEY = "audiogen-token";
const $ = (id) => document.getElementById(id);
// A server started with a token wants it on every request: asked for once, kept for the session.
let token = sessionStorage.getItem(TOKEN_KEY) || "";
const auth = () => (token ? { Authorization: `Bearer ${token}` } : {});
const player = new Player(auth);
const grid = new Grid($("grid"), (edits) => {
  $("edits").textContent = edits ? `${edits} hit${edits > 1 ? "s" : ""} changed` : "";
  $("rerender").disabled = edits === 0 || busy;
});
const takes = [];  // every finished job, in order
let job = null;     // the take shown
let busy = false;
let ready = false;  // the take shown is decoded and drawn (the tests wait for it)

function say(text) { $("status").textContent = text; }

function randomSeed() { return Math.floor(Math.random() * 2 ** 31); }

function setBusy(value) {
  busy = value;
  for (const id of ["generate", "another", "vary"]) $(id).disabled = value || (id !== "generate" && !job);
  $("rerender").disabled = value || grid.edits() === 0;
}

class NeedsToken extends Error {}

async function api(method, url, body) {
  const headers = auth();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = answer.status === 204 ? null : await answer.json();
  if (answer.status === 401) {
    askToken();
    throw new NeedsToken(token ? "the token was refused" : "this server needs its token");
  }
  if (!answer.ok) throw new Error(data && data.error ? data.error : `${answer.status}`);
  return data;
}

function askToken() {
  $("access").hidden = false;
  $("token").focus();
}

async function fillChoices() {
  const [genres, kits] = await Promise.all([api("GET", "/v1/genres"), api("GET", "/v1/kits")]);
  for (const g of genres) $("genre").append(new Option(`${g.title}`, g.name));
  for (const k of kits) $("kit").append(new Option(`${k.title}`, k.name));
}

// The generate body: the sentence and the options set; those left alone come from the sentence.
function request(seed) {
  const body = {};
  const prompt = $("prompt").value.trim();
  if (prompt) body.prompt = prompt;
  for (const id of ["genre", "kit", "loudness"]) if ($(id).value) body[id] = $(id).value;
  for (const id of ["bpm", "bars", "energy"]) if ($(id).value !== "") body[id] = Number($(id).value);
  if ($("loop").checked) body.loop = true;
  if ($("mp3").checked) body.formats = ["wav", "mp3"];
  body.seed = seed;
  return body;
}

// How the take shown was rendered, for its edits and variations to sound alike.
function renderOptions(source) {
  const { note_map, preset_name, ...render } = source.request.render;
  if (preset_name) render.preset_name = preset_name;
  return render;
}

async function run(url, body, what) {
  setBusy(true);
  $("progress").value = 0;
  say(`${what}: sent.`);
  try {
    let current = await api("POST", url, body);
    while (current.status === "queued" || current.status === "running") {
      $("progress").value = current.progress;
      say(`${what}: ${current.step} (${Math.round(current.progress * 100)}%)`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      current = await api("GET", current.url);
    }
    if (current.status !== "done") throw new Error(current.error || current.status);
    $("progress").value = 1;
    current.what = what;
    current.seed = body.seed;
    takes.push(current);
    addTake(current);
    await show(current);
    say(`${what}: done.`);
  } catch (error) {
    say(`${what} failed: ${error.message}`);
  } finally {
    setBusy(false);
  }
}

function audioName(files, stem) {
  for (const ext of ["wav", "flac", "mp3"]) {
    const name = `${stem}.${ext}`;
    if (name in files) return name;
  }
  return null;
}

async function show(take) {
  ready = false;
  job = take;
  const score = await api("GET", `/v1/beats/${take.id}/score`);
  const urls = { mix: take.files[audioName(take.files, "mix")] };
  for (const name of Object.keys(take.files)) {
    const stem = name.match(/^stems\/([^/]+)\.(wav|flac|mp3)$/);
    if (stem) urls[stem[1]] = take.files[audioName(take.files, `stems/${stem[1]}`)];
  }
  $("beat").hidden = false;
  grid.show(score, () => Math.max(1, Math.min(127, Number($("velocity").value) || 100)));
  $("edits").textContent = "";
  await player.load(urls, take.request.render.loop ? grid.durationSeconds : null);
  drawStems();
  drawDownloads(take);
  $("play").disabled = false;
  $("play").textContent = "Play";
  $("beat-title").textContent = `The beat: take ${takes.indexOf(take) + 1} (${take.what})`;
  ready = true;
}

function drawStems() {
  const box = $("stems");
  box.replaceChildren();
  for (const name of player.stems) {
    const group = document.createElement("span");
    group.className = "stem";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", name);
    group.append(name);
    for (const [verb, set, act] of [["Solo", player.soloed, "solo"], ["Mute", player.muted, "mute"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = verb[0];
      button.title = `${verb} ${name}`;
      button.setAttribute("aria-label", `${verb} ${name}`);
      button.dataset.stem = name;
      button.dataset.act = act;
      button.setAttribute("aria-pressed", set.has(name) ? "true" : "false");
      button.addEventListener("click", () => {
        player[act](name);
        button.setAttribute("aria-pressed", set.has(name) ? "true" : "false");
      });
      group.append(button);
    }
    box.append(group);
  }
}

function drawDownloads(take) {
  const list = $("downloads");
  list.replaceChildren();
  const wanted = ["mix.wav", "mix.mp3", "mix.flac", "stems.zip", "beat.mid", "manifest.json", "grid.png"];
  for (const name of wanted.filter((n) => n in take.files)) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = take.files[name];
    link.download = `${take.id}-${name}`;
    link.textContent = name;
    link.addEventListener("click", (e) => { if (token) { e.preventDefault(); download(link); } });
    item.append(link);
    list.append(item);
  }
}

// A link cannot carry the token, so with one the file is fetched and saved from memory.
async function download(link) {
  try {
    const answer = await fetch(link.href, { headers: auth() });
    if (!answer.ok) throw new Error(`${answer.status}`);
    const saving = document.createElement("a");
    saving.href = URL.createObjectURL(await answer.blob());
    saving.download = link.download;
    saving.click();
    setTimeout(() => URL.revokeObjectURL(saving.href), 60000);
  } catch (error) {
    say(`${link.download} could not be downloaded: ${error.message}`);
  }
}

function addTake(take) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  const plan = take.request.plan;
  const what = plan ? `${plan.genre}, ${plan.bpm} bpm, ${plan.bars} bars` : take.kind;
  button.textContent = `${take.what}: ${what}, kit ${take.request.render.kit}, seed ${take.request.render.seed}`;
  button.addEventListener("click", async () => {
    if (busy) return;
    try { await show(take); say(`Take ${takes.indexOf(take) + 1} shown.`); } catch (e) {
      say(`That take is gone (${e.message}): the server keeps takes for a while only.`);
    }
  });
  item.append(button);
  $("takes").append(item);
}

function tick() {
  const left = player.playing ? grid.playheadLeft(player.position()) : null;
  const head = $("playhead");
  head.hidden = left === null;
  if (left !== null) head.style.left = `${left}px`;
  $("time").textContent = `${player.position().toFixed(1)} s`;
  requestAnimationFrame(tick);
}

$("ask").addEventListener("submit", (e) => {
  e.preventDefault();
  const seed = $("seed").value === "" ? randomSeed() : Number($("seed").value);
  run("/v1/beats", request(seed), "Generate");
});
$("another").addEventListener("click", () => {
  const seed = randomSeed();
  $("seed").value = seed;
  run("/v1/beats", request(seed), "Another take");
});
$("vary").addEventListener("click", () => {
  const amount = Number($("amount").value);
  const body = { ...renderOptions(job), amount, form: `verse:${grid.score.bars}`, seed: randomSeed() };
  run(`/v1/beats/${job.id}/vary`, body, `Vary ${amount}`);
});
$("rerender").addEventListener("click", () => {
  const body = { ...renderOptions(job), score: grid.edited() };
  run("/v1/render/score", body, "Edited");
});
$("amount").addEventListener("input", () => { $("amount-value").textContent = $("amount").value; });
$("repeat").addEventListener("change", () => { player.repeat = $("repeat").checked; });
$("play").addEventListener("click", async () => {
  if (player.playing) { player.stop(); $("play").textContent = "Play"; return; }
  await player.play();
  $("play").textContent = "Stop";
});

// For people reading the page's state from the browser's console, and for the tests.
window.audiogen = {
  player, grid, takes, get job() { return job; }, get ready() { return ready; }, download,
};
$("access").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
});

// The genre and kit lists, once the server lets the page in.
function start() {
  fillChoices().then(() => {
    $("access").hidden = true;
    say("Ready.");
  }).catch((e) => say(e instanceof NeedsToken ? `${e.message}: enter it above.` : `Cannot reach the server: ${e.message}`));
}

start();
requestAnimationFrame(tick);

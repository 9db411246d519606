// moodbox page: state from /api/v1/events (Server-Sent Events), commands to /api/v1/commands/<thing>.
"use strict";
const $ = (id) => document.getElementById(id);
const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
const MOODS = ["happy", "energetic", "calm", "sad", "tense"];
const state = {};
let csrf = "", session = {}, volumeDragging = false;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function say(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = new Error(data.error || response.statusText);
    err.status = response.status;
    throw err;
  }
  return data;
}

async function command(thing, value) {
  try {
    await api("POST", `/api/v1/commands/${thing}`, value === undefined ? {} : { value });
    say("");
  } catch (err) { say(`${thing}: ${err.message}`); }
}

function fmtTime(s) {
  if (s === null || s === undefined) return "";
  s = Math.max(0, Math.round(s));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function renderPlayer() {
  const p = state.player || {};
  $("title").textContent = p.title || (p.state === "idle" ? "Nothing playing" : "…");
  $("artist").textContent = [p.artist, p.album].filter(Boolean).join(" · ");
  $("reason").textContent = p.reason ? `Why: ${p.reason}` : "";
  $("playpause").textContent = p.state === "playing" ? "Pause" : "Play";
  $("playpause").dataset.state = p.state || "";
  $("progress").max = p.duration || 1;
  $("progress").value = p.position || 0;
  const cover = $("cover");
  const src = p.cover || "";
  if (cover.dataset.src !== src) {
    cover.dataset.src = src;
    cover.hidden = true;
    $("now").classList.remove("has-cover");
    if (src) {
      cover.onload = () => { cover.hidden = false; $("now").classList.add("has-cover"); };
      cover.src = src;
    }
  }
}

function renderVolume() {
  const v = state.volume || {};
  const slider = $("volume");
  slider.max = v.max ?? 100;
  if (!volumeDragging && v.volume !== undefined) slider.value = v.volume;
  $("volume-value").textContent = v.volume ?? "";
  $("volume-cap").textContent = v.max !== undefined ? `(cap ${v.max})` : "";
}

function renderMood() {
  const m = state.mood || {};
  $("mood-emotion").textContent = m.emotion ? `${m.emotion}` : "…";
  const parts = [];
  if (m.source) parts.push(m.source === "camera" ? `read from ${m.faces ?? 0} face(s)` : `source: ${m.source}`);
  if (m.confidence !== undefined) parts.push(`${Math.round(100 * m.confidence)}% sure`);
  if (m.age_groups && m.age_groups.length) parts.push(`ages: ${m.age_groups.join(", ")}`);
  $("mood-why").textContent = parts.join(" · ");
  const bars = $("mood-bars");
  bars.replaceChildren();
  const probs = m.probs || {};
  for (const e of EMOTIONS) {
    if (probs[e] === undefined) continue;
    const row = el("div");
    const bar = el("span", "", "bar");
    bar.style.width = `${Math.round(100 * probs[e])}%`;
    const track = el("span"); track.append(bar);
    row.append(el("span", e), track, el("span", `${Math.round(100 * probs[e])}%`));
    bars.append(row);
  }
}

function renderRoomControls() {
  if (state.detection) $("detection").checked = !!state.detection.enabled;
  if (state.policy && state.policy.policy) $("policy").value = state.policy.policy;
  const o = state.override || {};
  $("override").value = o.active && o.emotion && o.emotion !== "auto" ? o.emotion : "auto";
  const c = state.camera || {};
  $("camera").textContent = `Camera: ${c.status || "?"}${c.source ? ` (${c.source})` : ""}${c.error ? ` – ${c.error}` : ""}`;
}

function renderLibrary() {
  const l = state.library || {};
  $("library").textContent = `${l.tracks ?? 0} tracks · ${l.scanning ? "scanning…" : (l.status || "")}` +
    `${l.demo ? " · demo library" : ""}${l.error ? ` · ${l.error}` : ""}`;
}

function renderQueue(entries) {
  const list = $("queue");
  list.replaceChildren();
  for (const q of entries || []) {
    const item = el("li", [q.artist, q.title].filter(Boolean).join(" – ") || "(stream)", q.current ? "current" : "");
    if (q.reason) item.append(el("small", q.reason));
    list.append(item);
  }
}

const ownerOnly = () => session.password_required && !session.logged_in;

async function loadHistory() {
  if (ownerOnly()) { $("history").replaceChildren(el("li", "Log in to see what was played.")); return; }
  try {
    const { plays } = await api("GET", "/api/v1/history?limit=20");
    const list = $("history");
    list.replaceChildren();
    for (const p of plays) {
      const what = p.skipped ? "skipped" : "played";
      const item = el("li", `${[p.artist, p.title].filter(Boolean).join(" – ") || `track ${p.track_id}`}`);
      item.append(el("small", `${what} ${fmtTime(p.listened_s)} of ${fmtTime(p.duration_s)}, room ${p.mood}` +
        `${p.likes ? ` · liked ${p.likes}×` : ""}${p.dislikes ? ` · disliked ${p.dislikes}×` : ""}`));
      list.append(item);
    }
  } catch (err) { say(`history: ${err.message}`); }
}

async function loadChart() {
  if (ownerOnly()) { $("chart").replaceChildren(); $("chart-legend").textContent = "Log in to see the room's mood over time."; return; }
  try {
    const { points } = await api("GET", "/api/v1/mood/history?hours=6");
    const svg = $("chart");
    svg.replaceChildren();
    if (!points.length) return;
    const t0 = points[0].at, t1 = Math.max(points[points.length - 1].at, t0 + 60);
    const x = (t) => (600 * (t - t0)) / (t1 - t0);
    const y = (v) => 115 - 110 * Math.max(0, Math.min(1, v ?? 0.5));
    for (const [key, color] of [["valence", "#5aa9e6"], ["arousal", "#f0a500"]]) {
      const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      line.setAttribute("points", points.map((p) => `${x(p.at).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ") +
        ` 600,${y(points[points.length - 1][key]).toFixed(1)}`);
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", color);
      line.setAttribute("stroke-width", "2");
      svg.append(line);
    }
    $("chart-legend").textContent = `valence (blue) and energy (orange) of the room's mood since ` +
      `${new Date(t0 * 1000).toLocaleTimeString()}: ${points.length} reading(s)`;
  } catch (err) { say(`chart: ${err.message}`); }
}

async function search(text) {
  try {
    const { tracks } = await api("GET", `/api/v1/library/search?q=${encodeURIComponent(text)}&limit=30`);
    const list = $("results");
    list.replaceChildren();
    if (!tracks.length) list.append(el("li", "nothing found"));
    for (const t of tracks) {
      const item = el("li", [t.artist, t.title].filter(Boolean).join(" – "));
      const pick = el("select");
      pick.setAttribute("aria-label", `mood of ${t.title}`);
      for (const m of MOODS) pick.append(new Option(m, m, false, m === t.mood));
      if (!MOODS.includes(t.mood)) pick.prepend(new Option(t.mood, t.mood, true, true));
      const save = el("button", "Set mood");
      save.type = "button";
      save.addEventListener("click", async () => {
        try {
          await api("PUT", `/api/v1/tracks/${t.track_id}/mood`, { mood: pick.value });
          say(`“${t.title}” is now ${pick.value} (saved in moods.csv; rescanning)`);
        } catch (err) { say(`mood: ${err.message}`); }
      });
      item.append(el("small", `mood ${t.mood} (${t.mood_source}, ${Math.round(100 * t.mood_confidence)}% sure)`), pick, save);
      list.append(item);
    }
  } catch (err) { say(`search: ${err.message}`); }
}

let aimTimer = null;

async function refreshAim() {
  const img = $("aim-img");
  try {
    const response = await fetch(`/api/v1/camera/view.jpg?t=${Date.now()}`, { credentials: "same-origin" });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      img.hidden = true;
      $("aim-note").textContent = data.error || response.statusText;
      return;
    }
    const old = img.src;
    img.src = URL.createObjectURL(await response.blob());
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    img.hidden = false;
    const faces = response.headers.get("X-Faces");
    $("aim-note").textContent = `${faces} face(s), ${response.headers.get("X-Frame-Age")} s ago`;
  } catch (err) { $("aim-note").textContent = err.message; }
}

function applyAim() {
  const aim = $("aim");
  aim.hidden = !(session.camera_view && session.logged_in);
  if (aimTimer) { clearInterval(aimTimer); aimTimer = null; }
  if (!aim.hidden && aim.open) { refreshAim(); aimTimer = setInterval(refreshAim, 1000); }
  if (aim.hidden || !aim.open) {
    const img = $("aim-img");
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.removeAttribute("src");
    img.hidden = true;
  }
}

function applySession() {
  $("open-warning").hidden = session.password_required;
  $("login").hidden = !session.password_required || session.logged_in;
  $("logout").hidden = !session.password_required || !session.logged_in;
  const locked = session.password_required && !session.logged_in;
  for (const node of document.querySelectorAll("button[data-command], select, #volume, #detection")) {
    if (node.closest("#search") || node.closest("#results")) continue;
    node.disabled = locked;
  }
  applyAim();
}

async function loadSession() {
  session = await api("GET", "/api/v1/session");
  csrf = session.csrf_token;
  applySession();
}

function applySnapshot(snapshot) {
  Object.assign(state, snapshot);
  renderPlayer(); renderVolume(); renderMood(); renderRoomControls(); renderLibrary(); renderQueue(state.queue);
  document.body.dataset.ready = "1";
}

// Live updates: Server-Sent Events; when the box refuses the stream (too many live pages) or it breaks,
// the page polls the state every POLL_MS and says so, and tries the stream again later.
const POLL_MS = 5000, RETRY_STREAM_MS = 60000;
let source = null, pollTimer = null, retryTimer = null;

function showLink(text, live) {
  const link = $("link");
  link.textContent = text;
  link.classList.toggle("live", live);
}

async function poll() {
  try { applySnapshot(await api("GET", "/api/v1/state")); }
  catch (err) { showLink(`cannot reach the box (${err.message}); trying again`, false); }
}

function startPolling(why) {
  showLink(`not live (${why}): refreshing every ${POLL_MS / 1000} s`, false);
  if (!pollTimer) { poll(); pollTimer = setInterval(poll, POLL_MS); }
  if (!retryTimer) retryTimer = setTimeout(() => { retryTimer = null; connect(); }, RETRY_STREAM_MS);
}

function stopPolling() {
  if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
}

function connect() {
  if (source) source.close();
  source = new EventSource("/api/v1/events");
  source.onopen = () => { stopPolling(); showLink("live", true); };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) startPolling("the box has too many live pages");
    else startPolling("reconnecting");
  };
  source.addEventListener("snapshot", (e) => { stopPolling(); showLink("live", true); applySnapshot(JSON.parse(e.data)); });
  const on = (topic, render) => source.addEventListener(topic, (e) => { state[topic] = JSON.parse(e.data); render(); });
  on("player", () => { const before = $("cover").dataset.src; renderPlayer(); if ($("cover").dataset.src !== before) loadHistory(); });
  on("volume", renderVolume);
  on("mood", () => { renderMood(); loadChart(); });
  on("detection", renderRoomControls); on("policy", renderRoomControls); on("override", renderRoomControls);
  on("camera", renderRoomControls);
  on("library", renderLibrary);
  source.addEventListener("queue", (e) => renderQueue(JSON.parse(e.data).queue));
  source.addEventListener("event", (e) => { const ev = JSON.parse(e.data); if (ev.type === "track_ended") loadHistory(); });
}

function wire() {
  for (const button of document.querySelectorAll("button[data-command]")) {
    button.addEventListener("click", () => command(button.dataset.command, button.dataset.value));
  }
  const volume = $("volume");
  volume.addEventListener("input", () => { volumeDragging = true; $("volume-value").textContent = volume.value; });
  volume.addEventListener("change", () => { volumeDragging = false; command("volume", Number(volume.value)); });
  $("detection").addEventListener("change", (e) => command("detection", e.target.checked));
  $("policy").addEventListener("change", (e) => command("policy", e.target.value));
  for (const e of EMOTIONS) $("override").append(new Option(e, e));
  $("override").addEventListener("change", (e) => command("override", e.target.value));
  $("aim").addEventListener("toggle", applyAim);
  $("aim-look").addEventListener("click", () => command("refresh"));
  $("search").addEventListener("submit", (e) => { e.preventDefault(); search($("q").value); });
  $("login").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await api("POST", "/api/v1/login", { password: $("password").value }); say(""); }
    catch (err) { say(`login: ${err.message}`); }
    $("password").value = "";
    await loadSession();
    connect(); loadHistory(); loadChart();
  });
  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/v1/logout", {});
    await loadSession();
    connect(); loadHistory(); loadChart();
  });
}

async function main() {
  wire();
  try { await loadSession(); } catch (err) { say(`cannot reach the box: ${err.message}`); }
  connect();
  loadHistory();
  loadChart();
  setInterval(loadChart, 60000);
}
main();

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

let sayTimer = null;
function say(text, ok) {  // ok: a short success note that goes away; otherwise an error that stays
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
  box.classList.toggle("error", !!text && !ok);
  if (sayTimer) { clearTimeout(sayTimer); sayTimer = null; }
  if (text && ok) sayTimer = setTimeout(() => say(""), 4000);
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

const DONE = { like: "Liked: the box remembers it for this mood", dislike: "Disliked: skipped, and played less in this mood",
  rescan: "Rescanning the library…", refresh: "Reading the room…" };

async function command(thing, value) {
  try {
    await api("POST", `/api/v1/commands/${thing}`, value === undefined ? {} : { value });
    say(DONE[thing] || "", true);
    if (thing === "like" || thing === "dislike") setTimeout(loadHistory, 500);
  } catch (err) { say(`${thing}: ${err.message}`); }
}

function fmtTime(s) {
  if (s === null || s === undefined) return "";
  s = Math.max(0, Math.round(s));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

let progressAt = 0, seeking = false;

function placeholderCover(p) {  // a generated cover: the artist's initials on a colour of its own
  const name = p.artist || p.title || "?";
  let hue = 0;
  for (const c of name) hue = (hue * 31 + c.charCodeAt(0)) % 360;
  const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96"><rect width="96" height="96" ` +
    `fill="hsl(${hue},45%,35%)"/><text x="48" y="60" font-size="34" text-anchor="middle" fill="#fff" ` +
    `font-family="sans-serif">${initials.replace(/[<&"]/g, "")}</text></svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

function renderPlayer() {
  const p = state.player || {};
  $("title").textContent = p.title || (p.state === "idle" || !p.state ? "Nothing playing" : "…");
  $("artist").textContent = [p.artist, p.album].filter(Boolean).join(" · ");
  $("reason").textContent = p.reason ? `Why this track: ${p.reason}` : "";
  $("queue-source").textContent = p.queue_source === "picked"
    ? "You picked this queue; when it ends, the box reads the room again." : "";
  $("playpause").textContent = p.state === "playing" ? "Pause" : "Play";
  $("playpause").dataset.state = p.state || "";
  progressAt = performance.now();
  renderProgress();
  const cover = $("cover");
  const src = p.cover || (p.title ? placeholderCover(p) : "");
  if (cover.dataset.src !== src) {
    cover.dataset.src = src;
    cover.onerror = () => { if (p.title) { cover.onerror = null; cover.src = placeholderCover(p); } };
    cover.src = src || placeholderCover({ title: "moodbox" });
    cover.alt = p.title ? `cover of ${p.title}` : "";
  }
  cover.hidden = false;
  setMediaSession(p);
}

function position() {  // the position now: the last reported one plus the time since, while playing
  const p = state.player || {};
  const base = p.position || 0;
  const moved = p.state === "playing" ? (performance.now() - progressAt) / 1000 : 0;
  return Math.min(base + moved, p.duration || base + moved);
}

function renderProgress() {
  const p = state.player || {};
  const seek = $("seek");
  seek.max = Math.max(1, Math.round(p.duration || 0));
  if (!seeking) seek.value = Math.round(position());
  $("elapsed").textContent = fmtTime(seeking ? Number(seek.value) : position());
  $("total").textContent = p.duration ? fmtTime(p.duration) : "–:––";
}

function setMediaSession(p) {  // lock-screen and notification controls on a phone
  if (!("mediaSession" in navigator) || !p.title) return;
  const art = p.cover ? [{ src: p.cover }] : [];
  navigator.mediaSession.metadata = new MediaMetadata({ title: p.title, artist: p.artist || "", album: p.album || "",
    artwork: art });
  navigator.mediaSession.playbackState = p.state === "playing" ? "playing" : "paused";
}

function renderVolume() {
  const v = state.volume || {};
  const slider = $("volume");
  slider.max = v.max ?? 100;
  if (!volumeDragging && v.volume !== undefined) slider.value = v.volume;
  $("volume-value").textContent = v.volume ?? "";
  $("volume-cap").textContent = v.max !== undefined ? `(cap ${v.max})` : "";
}

const SOURCE_WORDS = { camera: "read from the camera", override: "set by hand", default: "the default mood (no face read yet)" };

function ago(at) {
  if (!at) return "";
  const s = Math.max(0, Math.round(Date.now() / 1000 - at));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

function renderMood() {
  const m = state.mood || {};
  const r = m.reading;
  $("mood-emotion").textContent = m.emotion || "…";
  const parts = [SOURCE_WORDS[m.source] || m.source || ""];
  if (m.source === "camera" && m.confidence !== undefined) parts.push(`${Math.round(100 * m.confidence)} % sure`);
  $("mood-why").textContent = parts.filter(Boolean).join(" · ");
  if (r) {
    const who = r.faces ? `${r.faces} face(s)${r.age_groups && r.age_groups.length ?
      ` (${r.age_groups.map((g) => g.replace("_", " ")).join(", ")})` : ""}` : "no faces";
    $("reading").textContent = `Last reading ${ago(r.at)}: ${who}. ${r.decision[0].toUpperCase()}${r.decision.slice(1)}.`;
  } else {
    $("reading").textContent = ownerOnly() ? "Log in to see the last reading." : "";
  }
  const bars = $("mood-bars");
  bars.replaceChildren();
  const probs = (r && r.faces && r.probs) || m.probs || {};  // what the camera saw, not only what was kept
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
  $("camera").textContent = `Camera: ${cameraWords(c)}`;
  const policy = (state.policy || {}).policy;
  $("policy-help").textContent = { match: "Match: music that fits the room as it is.",
    lift: "Lift: starts where the room is and steps toward uplifting music.",
    calm: "Calm: starts where the room is and steps down toward calm music." }[policy] || "";
  renderStatus();
}

function cameraWords(c) {
  const sample = (c.source || "").includes("/faces") && (c.source || "").startsWith("folder:");
  const what = sample ? "the bundled sample pictures (no camera found; set camera.source)" : (c.source || "");
  return `${c.status || "?"}${what ? ` – ${what}` : ""}${c.error ? ` – ${c.error}` : ""}`;
}

function renderLibrary() {
  const l = state.library || {};
  const scanning = l.scanning || l.status === "scanning";
  $("library").textContent = `${l.tracks ?? 0} tracks · ${scanning ? "scanning…" : (l.status || "")}` +
    `${l.demo ? " · the demo library (put music in library.path)" : ""}${l.failed ? ` · ${l.failed} unreadable` : ""}` +
    `${l.error ? ` · ${l.error}` : ""}`;
  const bar = $("scan-progress");
  bar.hidden = !scanning;
  if (scanning && l.total) { bar.max = l.total; bar.value = l.done || 0; } else bar.removeAttribute("value");
  renderStatus();
}

function renderStatus() {
  const d = state.diagnostics || {}, l = state.library || {}, c = state.camera || {};
  const t = d.timings_ms || {};
  const rows = [
    `Camera: ${cameraWords(c)}`,
    `Library: ${l.tracks ?? 0} tracks${l.failed ? `, ${l.failed} unreadable (see the log)` : ""}`,
    `Perception: ${d.perception || "?"}${t.detector !== undefined ? `, face detector ${t.detector} ms` : ""}` +
      `${d.analysis_fps ? `, ${d.analysis_fps} frames/s` : ""}`,
    `CPU temperature: ${d.cpu_temperature_c != null ? `${d.cpu_temperature_c} °C` : "not available here"}`,
    `Memory: ${d.memory_mb ?? "?"} MB · up ${fmtTime(d.uptime_s || 0)}`,
  ];
  $("status-list").replaceChildren(...rows.map((r) => el("li", r)));
}

function renderQueue(entries) {
  const list = $("queue");
  list.replaceChildren();
  const current = (entries || []).findIndex((q) => q.current);
  for (const q of (entries || []).slice(Math.max(0, current))) {  // played tracks are out of view
    const name = [q.artist, q.title].filter(Boolean).join(" – ") || "(stream)";
    const item = el("li", q.current ? `▶ Now playing: ${name}` : name, q.current ? "current" : "");
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
    const NS = "http://www.w3.org/2000/svg";
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text) node.textContent = text;
      svg.append(node);
      return node;
    };
    svg.replaceChildren();
    const left = 34, width = 560, top = 10, height = 110;  // valence and energy on their true scale, -1..1
    const y = (v) => top + height * (1 - (Math.max(-1, Math.min(1, v ?? 0)) + 1) / 2);
    for (const v of [1, 0, -1]) {
      add("line", { x1: left, x2: left + width, y1: y(v), y2: y(v), "stroke-dasharray": v === 0 ? "" : "3 3" });
      add("text", { x: 2, y: y(v) + 4 }, v === 0 ? "0" : v > 0 ? "+1" : "−1");
    }
    if (!points.length) { $("chart-legend").textContent = "No readings in the last six hours."; return; }
    const t0 = points[0].at, t1 = Math.max(points[points.length - 1].at, t0 + 60);
    const x = (t) => left + (width * (t - t0)) / (t1 - t0);
    add("text", { x: left, y: 136 }, new Date(t0 * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    add("text", { x: left + width - 40, y: 136 }, "now");
    for (const [key, color] of [["valence", "#5aa9e6"], ["arousal", "#f0a500"]]) {
      add("polyline", { points: points.map((p) => `${x(p.at).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ") +
        ` ${left + width},${y(points[points.length - 1][key]).toFixed(1)}`, fill: "none", stroke: color, "stroke-width": 2 });
    }
    $("chart-legend").textContent = `Valence (blue: unhappy −1 to happy +1) and energy (orange: calm −1 to lively +1) ` +
      `of the room since ${new Date(t0 * 1000).toLocaleTimeString()}: ${points.length} reading(s)`;
  } catch (err) { say(`chart: ${err.message}`); }
}

// Play now / Play next / Add to queue; `trackIds` gives the ids when clicked (an album loads its tracks then).
function pickButtons(what, trackIds) {
  const box = el("span", "", "row-actions");
  for (const [where, label] of [["now", "Play now"], ["next", "Play next"], ["end", "Add to queue"]]) {
    const b = el("button", label);
    b.type = "button";
    b.setAttribute("aria-label", `${label}: ${what}`);
    b.addEventListener("click", async () => {
      try {
        await api("POST", "/api/v1/queue", { track_ids: await trackIds(), where });
        say(`${what}: ${{ now: "playing now", next: "plays next", end: "added to the queue" }[where]}`, true);
      } catch (err) { say(`queue: ${err.message}`); }
    });
    box.append(b);
  }
  return box;
}

function trackRow(t) {
  const item = el("li", [t.artist, t.title].filter(Boolean).join(" – "));
  const info = el("small", `mood: ${t.mood} (${t.mood_source === "sidecar" ? "as you set it" : t.mood_source}` +
    `${["tag", "sidecar", "folder"].includes(t.mood_source) ? "" : `, ${Math.round(100 * t.mood_confidence)} % sure`})`);
  const pick = el("select");
  pick.setAttribute("aria-label", `mood of ${t.title}`);
  for (const m of MOODS) pick.append(new Option(m, m, false, m === t.mood));
  if (!MOODS.includes(t.mood)) pick.prepend(new Option(t.mood, t.mood, true, true));
  const save = el("button", "Set mood");
  save.type = "button";
  if (t.mood_source === "tag") {  // the file's own tag decides: say so instead of offering a change that fails
    pick.disabled = save.disabled = true;
    info.textContent += " – change it with a tag editor";
  }
  save.addEventListener("click", async () => {
    try {
      await api("PUT", `/api/v1/tracks/${t.track_id}/mood`, { mood: pick.value });
      t.mood = pick.value; t.mood_source = "sidecar";
      info.textContent = `mood: ${pick.value} (as you set it; rescanning)`;
      const undo = el("button", "Undo");
      undo.type = "button";
      undo.addEventListener("click", async () => {
        try {
          await api("DELETE", `/api/v1/tracks/${t.track_id}/mood`);
          info.textContent = "your correction is gone (rescanning)";
          undo.remove();
          say(`“${t.title}”: correction undone`, true);
        } catch (err) { say(`undo: ${err.message}`); }
      });
      save.after(undo);
      say(`“${t.title}” is now ${pick.value} (saved in moods.csv)`, true);
    } catch (err) { say(`mood: ${err.message}`); }
  });
  item.append(info, pick, save, pickButtons(t.title, () => [t.track_id]));
  return item;
}

function showList(title, rows) {
  $("browse-title").textContent = title;
  const list = $("results");
  list.replaceChildren(...(rows.length ? rows : [el("li", "nothing here")]));
}

async function search(text) {
  try {
    const { tracks } = await api("GET", `/api/v1/library/search?q=${encodeURIComponent(text)}&limit=30`);
    showList(`Search: ${text || "everything"}`, tracks.map(trackRow));
  } catch (err) { say(`search: ${err.message}`); }
}

async function openAlbum(id) {
  try {
    const { album, tracks } = await api("GET", `/api/v1/library/albums/${id}`);
    const head = el("li", `${album.title} – ${album.artist}${album.year ? ` (${album.year})` : ""}, ${album.tracks} track(s)`);
    head.append(pickButtons(album.title, () => tracks.map((t) => t.track_id)));
    showList(`Album: ${album.title}`, [head, ...tracks.map(trackRow)]);
  } catch (err) { say(`album: ${err.message}`); }
}

async function browse(kind, arg) {
  for (const b of document.querySelectorAll("[data-browse]")) b.setAttribute("aria-pressed", String(b.dataset.browse === kind));
  try {
    if (kind === "artists") {
      const { artists } = await api("GET", "/api/v1/library/artists");
      showList("Artists", artists.map((a) => {
        const row = el("li");
        const open = el("button", `${a.name || "(no artist)"} – ${a.albums} album(s), ${a.tracks} track(s)`);
        open.type = "button";
        open.addEventListener("click", () => browse("albums", a.name));
        row.append(open);
        return row;
      }));
    } else if (kind === "albums") {
      const { albums } = await api("GET", `/api/v1/library/albums${arg ? `?artist=${encodeURIComponent(arg)}` : ""}`);
      showList(arg ? `Albums of ${arg}` : "Albums", albums.map((a) => {
        const row = el("li");
        const open = el("button", `${a.title} – ${a.artist}${a.year ? ` (${a.year})` : ""}`);
        open.type = "button";
        open.addEventListener("click", () => openAlbum(a.id));
        row.append(open, pickButtons(a.title, async () =>
          (await api("GET", `/api/v1/library/albums/${a.id}`)).tracks.map((t) => t.track_id)));
        return row;
      }));
    } else if (kind === "moods") {
      const { moods } = await api("GET", "/api/v1/library/moods");
      showList("Moods", moods.map((m) => {
        const row = el("li");
        const open = el("button", `${m.mood}: ${m.tracks} track(s)`);
        open.type = "button";
        open.addEventListener("click", async () => {
          const { tracks } = await api("GET", `/api/v1/library/tracks?mood=${m.mood}&limit=100`);
          showList(`Mood: ${m.mood}`, tracks.map(trackRow));
        });
        row.append(open);
        return row;
      }));
    }
  } catch (err) { say(`library: ${err.message}`); }
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
    await img.decode().catch(() => {});  // shown once it is a picture, not before
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
  $("locked-note").hidden = !locked;
  for (const node of document.querySelectorAll("button[data-command], select, #volume, #detection, #seek, #results button, #results select")) {
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
  on("player", renderPlayer);
  on("volume", renderVolume);
  on("mood", () => { renderMood(); loadChart(); });
  on("detection", renderRoomControls); on("policy", renderRoomControls); on("override", renderRoomControls);
  on("camera", renderRoomControls);
  on("library", renderLibrary);
  source.addEventListener("queue", (e) => renderQueue(JSON.parse(e.data).queue));
  on("diagnostics", renderStatus);
  source.addEventListener("event", (e) => {
    const ev = JSON.parse(e.data);
    if (ev.type === "track_started") setTimeout(loadHistory, 300);  // the last track's play is recorded by then
    if (ev.type === "refresh_skipped") say(`Nothing to read: ${ev.why}. The music plays on.`, true);
  });
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
  for (const b of document.querySelectorAll("[data-browse]")) b.addEventListener("click", () => browse(b.dataset.browse));
  const seek = $("seek");
  seek.addEventListener("input", () => { seeking = true; renderProgress(); });
  seek.addEventListener("change", async () => {
    seeking = false;
    try {
      await api("POST", "/api/v1/player/seek", { position: Number(seek.value) });
      state.player = { ...(state.player || {}), position: Number(seek.value) };
      progressAt = performance.now();
    } catch (err) { say(`seek: ${err.message}`); }
  });
  setInterval(renderProgress, 1000);
  document.addEventListener("keydown", (e) => {  // space: play/pause, n/p: next/previous, arrows: volume
    if (e.target.closest("input, select, textarea, button") || e.ctrlKey || e.metaKey || e.altKey) return;
    const keys = { " ": () => command("player", "toggle"), n: () => command("player", "next"),
      p: () => command("player", "previous"), ArrowUp: () => command("volume", "+5"), ArrowDown: () => command("volume", "-5"),
      ArrowRight: () => command("player", "next"), ArrowLeft: () => command("player", "previous") };
    if (keys[e.key] && !($("playpause").disabled)) { e.preventDefault(); keys[e.key](); }
  });
  if ("mediaSession" in navigator) {
    for (const [action, value] of [["play", "play"], ["pause", "pause"], ["nexttrack", "next"], ["previoustrack", "previous"]]) {
      try { navigator.mediaSession.setActionHandler(action, () => command("player", value)); } catch (err) { /* not offered */ }
    }
  }
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
  try {  // the state the page was served with: shown at once
    const initial = JSON.parse($("initial-state").textContent || "{}");
    if (initial.player) applySnapshot(initial);
  } catch (err) { /* the live stream brings it */ }
  try { await loadSession(); } catch (err) { say(`cannot reach the box: ${err.message}`); }
  connect();
  loadHistory();
  loadChart();
  setInterval(loadChart, 60000);
}
main();

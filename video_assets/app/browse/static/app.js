// video-assets browse: draws what the JSON API answers (no build step, no framework).
"use strict";

const PAGE = 60;
const state = { view: "clips", model: "", where: "", q: "", like: "", offset: 0, status: "failed" };
const $ = (id) => document.getElementById(id);

// An element with attributes and children (text children are text nodes: nothing from the data is parsed as HTML).
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function getJSON(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== "" && value !== null && value !== undefined) query.set(key, value);
  }
  const response = await fetch(`${path}?${query}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

function showNotes(notes) {
  $("notes").replaceChildren(...(notes || []).map((note) => el("li", {}, note)));
}

function fileName(path) {
  return (path || "").split("/").pop();
}

// Plays the clip's span of the source video over its thumbnail, looping within the span.
function playSpan(media, clip) {
  if (media.querySelector("video")) return;
  const start = clip.span_start_s;
  const end = clip.span_end_s;
  const video = el("video", { muted: true, playsinline: true, preload: "auto", src: `${clip.video_url}#t=${start},${end}` });
  video.muted = true;
  // The fragment pauses the video at the span's end once; from then on the handlers keep it inside the span.
  const restart = () => {
    video.currentTime = start;
    video.play().catch(() => {});
  };
  video.addEventListener("timeupdate", () => {
    if (video.currentTime >= end || video.currentTime < start - 0.25) restart();
  });
  video.addEventListener("ended", restart);
  video.addEventListener("pause", () => {
    if (media.contains(video) && video.currentTime >= end - 0.05) restart();
  });
  media.append(video);
  video.play().catch(() => {});
}

function stopSpan(media) {
  const video = media.querySelector("video");
  if (video && !media.classList.contains("pinned")) {
    video.pause();
    video.remove();
  }
}

function curationBadges(clip, inGroup) {
  const badges = [];
  if (clip.score !== undefined) badges.push(el("span", { class: "badge score" }, `score ${clip.score.toFixed(4)}`));
  if (clip.dup_group && !inGroup) {
    badges.push(
      clip.dup_keep
        ? el("span", { class: "badge keep" }, `kept of ${clip.group_size}`)
        : el("span", { class: "badge dup", title: `dup of ${clip.dup_group}` }, `dup, sim ${clip.sim_to_kept.toFixed(3)}`),
    );
  }
  if (clip.filter_reasons && clip.filter_reasons.length) {
    badges.push(el("span", { class: "badge drop" }, `drop: ${clip.filter_reasons.join(", ")}`));
  }
  if (clip.cluster_id !== null && clip.cluster_id !== undefined) {
    badges.push(el("span", { class: "badge" }, `cluster ${clip.cluster_id}`));
  }
  for (const [text, prob] of Object.entries(clip.text_scores || {})) {
    if ((state.shownTexts || []).includes(text)) badges.push(el("span", { class: "badge" }, `${text}=${prob.toFixed(3)}`));
  }
  return badges;
}

function clipCard(clip, extra = {}) {
  const span = `${clip.span_start_s.toFixed(2)}–${clip.span_end_s.toFixed(2)} s`;
  const media = el(
    "div",
    { class: "media", title: "hover to play the clip, click to keep it playing" },
    el("img", { src: clip.thumb_url, alt: `${fileName(clip.source_path)} ${span}`, loading: "lazy" }),
  );
  media.addEventListener("mouseenter", () => playSpan(media, clip));
  media.addEventListener("mouseleave", () => stopSpan(media));
  media.addEventListener("click", () => {
    media.classList.toggle("pinned");
    if (media.classList.contains("pinned")) playSpan(media, clip);
    else stopSpan(media);
  });
  // In a duplicate group the group's own badges (KEPT, similarity) replace the dup badge.
  const badges = [...(extra.badges || []), ...curationBadges(clip, Boolean(extra.badges))];
  return el(
    "div",
    { class: `card${extra.kept ? " kept" : ""}`, dataset: { clipId: clip.clip_id, videoId: clip.video_id } },
    media,
    el(
      "div",
      { class: "meta" },
      el("div", { class: "path", title: clip.source_path }, fileName(clip.source_path)),
      el("div", { class: "span" }, span),
      el("div", { class: "clip-id", title: "clip id" }, clip.clip_id),
      badges.length ? el("div", { class: "badges" }, badges) : null,
      el("button", { class: "like", onclick: () => moreLikeThis(clip.clip_id) }, "more like this"),
    ),
  );
}

function grid(clips) {
  if (!clips.length) return el("div", { class: "empty" }, "no clip to show");
  return el("div", { class: "grid" }, clips.map((clip) => clipCard(clip)));
}

function pager(total, shown, onPage) {
  $("pager").hidden = total <= shown && state.offset === 0;
  const end = state.offset + shown;
  $("page-info").textContent = shown ? `${state.offset + 1}–${end} of ${total}` : `0 of ${total}`;
  $("prev").disabled = state.offset === 0;
  $("next").disabled = end >= total;
  $("prev").onclick = () => onPage(Math.max(0, state.offset - PAGE));
  $("next").onclick = () => onPage(end);
}

function summary(...parts) {
  $("summary").replaceChildren(...parts);
}

async function loadClips() {
  const base = { model: state.model, where: state.where, limit: PAGE, offset: state.offset };
  if (state.q || state.like) {
    // k covers this page and the ones before it: search pages by offset within the ranking.
    const body = await getJSON("/api/search", { ...base, q: state.q, like: state.like, k: PAGE });
    const what = state.like ? `more like clip ${state.like}` : `text “${state.q}”`;
    summary(`${body.hits.length} hit(s) for ${what} (${body.model})`, el("button", { onclick: clearSearch }, "clear search"));
    state.shownTexts = [];
    $("view").replaceChildren(grid(body.hits));
    pager(state.offset + body.hits.length + (body.hits.length === PAGE ? 1 : 0), body.hits.length, go);
    return;
  }
  const body = await getJSON("/api/clips", base);
  state.shownTexts = body.shown_texts;
  showNotes(body.notes);
  summary(`${body.total} clip(s) of ${body.model} match${state.where ? ` “${state.where}”` : ""}`);
  $("view").replaceChildren(grid(body.rows));
  pager(body.total, body.rows.length, go);
}

async function loadDuplicates() {
  const body = await getJSON("/api/duplicates", { model: state.model, limit: 20, offset: state.offset });
  summary(`${body.total} duplicate group(s) of ${body.model}, cosine ≥ ${body.threshold} (table v${body.table_version})`);
  const groups = body.groups.map((group) =>
    el(
      "div",
      { class: "group" },
      el("h3", {}, `group of ${group.size} `, el("span", { class: "muted" }, `kept ${group.group}`)),
      el(
        "div",
        { class: "row" },
        group.clips.map((clip) =>
          clipCard(clip, {
            kept: clip.dup_keep,
            badges: [clip.dup_keep ? el("span", { class: "badge keep" }, "KEPT") : el("span", { class: "badge dup" }, `similarity ${clip.sim_to_kept.toFixed(4)}`)],
          }),
        ),
      ),
    ),
  );
  $("view").replaceChildren(...(groups.length ? groups : [el("div", { class: "empty" }, "no duplicate group")]));
  pager(body.total, body.groups.length, go);
}

async function loadClusters() {
  const body = await getJSON("/api/clusters", { model: state.model, limit: 20, offset: state.offset });
  summary(`${body.total} cluster(s) of ${body.model}`);
  const clusters = body.clusters.map((cluster) =>
    el(
      "div",
      { class: "group" },
      el(
        "h3",
        {},
        `cluster ${cluster.cluster_id} `,
        el("span", { class: "muted" }, `${cluster.size} clip(s)`),
        el("button", { onclick: () => filterBy(`cluster_id = ${cluster.cluster_id}`) }, "show all"),
      ),
      el("div", { class: "row" }, cluster.clips.map((clip) => clipCard(clip))),
    ),
  );
  $("view").replaceChildren(...(clusters.length ? clusters : [el("div", { class: "empty" }, "no cluster")]));
  pager(body.total, body.clusters.length, go);
}

async function loadVideos() {
  const body = await getJSON("/api/videos", { status: state.status, limit: PAGE, offset: state.offset });
  $("status-filters").replaceChildren(
    ...["done", "failed", "pending", "missing", ""].map((status) =>
      el(
        "button",
        { class: state.status === status ? "active" : null, onclick: () => setStatus(status) },
        status ? `${status} (${body.counts[status]})` : "all",
      ),
    ),
  );
  summary(`${body.total} video(s)${state.status ? ` ${state.status}` : ""}`);
  const rows = body.videos.map((video) =>
    el(
      "tr",
      { dataset: { videoId: video.video_id } },
      el("td", {}, el("span", { class: `status ${video.status}` }, video.status)),
      el("td", { class: "file", title: video.video_id }, video.path),
      el("td", { class: "reason" }, video.reason || ""),
    ),
  );
  const head = el("tr", {}, el("th", {}, "status"), el("th", {}, "file"), el("th", {}, "reason"));
  $("view").replaceChildren(
    rows.length ? el("table", { class: "videos" }, el("thead", {}, head), el("tbody", {}, rows)) : el("div", { class: "empty" }, "no video"),
  );
  pager(body.total, body.videos.length, go);
}

const LOADERS = { clips: loadClips, duplicates: loadDuplicates, clusters: loadClusters, videos: loadVideos };

async function render() {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.view === state.view);
  }
  $("clip-controls").hidden = state.view !== "clips";
  $("video-controls").hidden = state.view !== "videos";
  showError("");
  showNotes([]);
  $("view").replaceChildren();
  try {
    await LOADERS[state.view]();
  } catch (err) {
    showError(err.message);
    summary();
    $("pager").hidden = true;
  }
  document.body.dataset.loaded = `${state.view}:${Date.now()}`;
}

function go(offset) {
  state.offset = offset;
  render();
}

function setStatus(status) {
  state.status = status;
  go(0);
}

// Over the whole index: the filter box may hold curation columns, which `search --where` does not take.
function moreLikeThis(clipId) {
  Object.assign(state, { view: "clips", like: clipId, q: "", where: "", offset: 0 });
  $("q").value = "";
  $("where").value = "";
  render();
  window.scrollTo(0, 0);
}

function clearSearch() {
  Object.assign(state, { like: "", q: "", offset: 0 });
  $("q").value = "";
  render();
}

function filterBy(where) {
  Object.assign(state, { view: "clips", where, like: "", q: "", offset: 0 });
  $("where").value = where;
  render();
}

async function start() {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => {
      Object.assign(state, { view: button.dataset.view, offset: 0 });
      render();
    });
  }
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, { q: $("q").value.trim(), like: "", offset: 0 });
    render();
  });
  $("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    filterBy($("where").value.trim());
  });
  for (const button of document.querySelectorAll("#quick-filters button")) {
    button.addEventListener("click", () => filterBy(button.dataset.where));
  }
  $("model").addEventListener("change", () => {
    state.model = $("model").value;
    go(0);
  });
  try {
    const info = await getJSON("/api/info");
    $("data-dir").textContent = info.data_dir;
    state.model = info.default_model;
    $("model").replaceChildren(
      ...info.models.map((m) => el("option", { value: m.name, selected: m.name === state.model }, m.has_text ? `${m.name} (text)` : m.name)),
    );
  } catch (err) {
    showError(err.message);
    return;
  }
  render();
}

start();

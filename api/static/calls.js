// The calls page: uploads by drag and drop (one request per file, each with its progress bar) and the
// live queue, refreshed from the server while anything in it is waiting or being scored.
"use strict";

const QUEUE_POLL_MS = 2000;
const form = document.getElementById("upload");
const queue = document.getElementById("queue");

function uploadOne(file, metadata) {
  const item = document.createElement("li");
  item.innerHTML = '<span class="name"></span> <progress max="100" value="0"></progress> <span class="state">uploading</span>';
  item.querySelector(".name").textContent = file.name;
  const bar = item.querySelector("progress");
  bar.setAttribute("aria-label", "Upload of " + file.name);
  const state = item.querySelector(".state");
  document.getElementById("uploads").prepend(item);

  const body = new FormData();
  body.append("audio", file, file.name);
  for (const [name, value] of metadata) if (value) body.append(name, value);
  const request = new XMLHttpRequest();  // fetch() cannot report upload progress
  request.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
  });
  request.addEventListener("load", () => {
    let answer = {};
    try { answer = JSON.parse(request.responseText); } catch (_) { /* not JSON: the status says enough */ }
    if (request.status === 202 || request.status === 200) {
      bar.value = 100;
      state.innerHTML = '<a></a>';
      const link = state.querySelector("a");
      link.href = "/calls/" + answer.id;
      link.textContent = request.status === 202 ? "queued" : "already uploaded";
      item.dataset.call = answer.id;
      refreshQueue();
    } else {
      item.classList.add("failed");
      state.textContent = "refused: " + (answer.detail || request.statusText);
    }
  });
  request.addEventListener("error", () => {
    item.classList.add("failed");
    state.textContent = "the upload did not reach the service";
  });
  request.open("POST", "/v1/calls");
  request.send(body);
}

function uploadAll(files) {
  const metadata = new FormData(form);
  metadata.delete("audio");
  for (const file of files) uploadOne(file, [...metadata.entries()]);
}

if (form) {
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("files");
  input.addEventListener("change", () => { uploadAll(input.files); input.value = ""; });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (e) => { e.preventDefault(); uploadAll(e.dataTransfer.files); });
}

let polling = null;

let shown = null;  // the queue's HTML as last fetched: replaced only when it changes, so a screen reader hears changes only

async function refreshQueue() {
  const answer = await fetch("/calls/queue", { headers: { Accept: "text/html" } });
  if (answer.redirected) { window.location.reload(); return; }  // the session ended: the page asks to sign in
  if (!answer.ok) return;
  const html = await answer.text();
  if (html !== shown) { queue.innerHTML = html; shown = html; }
  const busy = queue.querySelector('[data-status="QUEUED"], [data-status="IN_PROGRESS"]');
  if (busy && polling === null) polling = setInterval(refreshQueue, QUEUE_POLL_MS);
  if (!busy && polling !== null) { clearInterval(polling); polling = null; }
}

refreshQueue();

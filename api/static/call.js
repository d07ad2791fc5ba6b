// The coaching view: the recording with its waveform, the transcript following the audio, every quoted
// moment a link that plays it, the timeline of the call with the playhead, and the keyboard.
"use strict";

const WAVEFORM_MAX_BYTES = 60e6;
const result = JSON.parse(document.getElementById("result").textContent);
const audio = document.getElementById("audio");
const turns = [...document.querySelectorAll("#turns .turn[data-begin]")].map((element) => ({
  element, begin: Number(element.dataset.begin) / 1000, end: Number(element.dataset.end) / 1000,
}));
let current = null;
let hasData = false;  // the player has had audio data (see seekTo)
let pendingSeek = null;  // a position asked for before that

// --- playing and following --------------------------------------------------------------------

// The browser may refuse to start sound (autoplay rules, a load that failed): say so beside the player
// rather than leave a pressed key doing nothing; the position is set either way.
function play() {
  const status = document.getElementById("player-status");
  audio.play().then(() => { status.hidden = true; }).catch((error) => {
    status.textContent = `The browser did not start playback (${error.name}: ${error.message}). Press Space or the play button to try again.`;
    status.hidden = false;
    console.warn("playback refused:", error);
  });
}

// Chromium can stall for good when the position is set while the player has only the metadata
// (seeking stays true, play never starts; about 1 in 10 seeks made right after the page opens): a
// position asked for then is held, and set once the first audio data has arrived.
function seekTo(seconds) {
  if (hasData) {
    audio.currentTime = seconds;
    return;
  }
  pendingSeek = seconds;
  follow();
}

function position() {
  return pendingSeek ?? audio.currentTime;
}

function playFrom(seconds) {
  if (!audio) return;
  seekTo(seconds);
  play();
}

function turnAt(seconds) {
  let found = null;
  for (const turn of turns) {
    if (turn.begin <= seconds + 0.01) found = turn;
    else break;
  }
  return found;
}

function highlight(turn, scroll) {
  if (turn === current) return;
  if (current) { current.element.classList.remove("current"); current.element.removeAttribute("aria-current"); }
  current = turn;
  if (!turn) return;
  turn.element.classList.add("current");
  turn.element.setAttribute("aria-current", "true");
  if (scroll) turn.element.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function follow() {
  highlight(turnAt(position()), !audio.paused);
  if (timeline) timeline.draw();
}

if (audio) {
  hasData = audio.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA;
  audio.addEventListener("loadeddata", () => {
    hasData = true;
    if (pendingSeek !== null) audio.currentTime = pendingSeek;
    pendingSeek = null;
  });
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("seeked", follow);
  const waveform = document.getElementById("waveform");
  // wavesurfer fetches and decodes the whole recording (at 8 kHz) to draw it: past this size (half an
  // hour of 8 kHz stereo WAV) the tab's memory grows by hundreds of MB, so a long call plays without it
  if (window.WaveSurfer && Number(waveform.dataset.bytes) <= WAVEFORM_MAX_BYTES) {
    WaveSurfer.create({ container: "#waveform", media: audio, height: 64, waveColor: "#9db4d0",
                        progressColor: "#2f5d8a", cursorColor: "#c2410c", barWidth: 2, barGap: 1, normalize: true });
  }
}

document.addEventListener("click", (event) => {
  const moment = event.target.closest("a.moment");
  if (moment) {
    event.preventDefault();
    const turn = turns.find((t) => t.element.dataset.index === moment.dataset.turn);
    if (turn) highlight(turn, true);
    playFrom(Number(moment.dataset.ms) / 1000);
    return;
  }
  const row = event.target.closest("#turns .turn[data-begin]");
  if (row && !event.target.closest("a, button")) playFrom(Number(row.dataset.begin) / 1000);
});

// --- keyboard: space plays or pauses, arrows move between turns -------------------------------

function step(direction) {
  if (!turns.length) return;
  const now = audio ? position() : (current ? current.begin : -1);
  let index = current ? turns.indexOf(current) : -1;
  if (direction > 0) index = turns.findIndex((t) => t.begin > now + 0.05);
  else if (current && now - current.begin < 1) index -= 1;  // near a turn's start: go to the one before
  if (index < 0) index = direction > 0 ? turns.length - 1 : 0;
  const turn = turns[index];
  highlight(turn, true);
  turn.element.focus({ preventScroll: true });
  if (audio) seekTo(turn.begin);
}

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest("input, textarea, select, button, audio, [contenteditable]")) return;
  if (event.key === " " && audio) {
    event.preventDefault();
    if (audio.paused) play(); else audio.pause();
  } else if (event.key === "ArrowRight" || event.key === "ArrowDown") {
    event.preventDefault();
    step(1);
  } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
    event.preventDefault();
    step(-1);
  }
});

// --- the timeline: customer sentiment and agent energy per turn, silences, overtalk, holds -----

function drawTimeline() {
  const canvas = document.getElementById("timeline");
  if (!canvas || !window.Chart) return null;
  const mid = (turn) => (turn.begin_ms + turn.end_ms) / 2000;
  const points = (speaker, value) => result.turns
    .filter((turn) => turn.speaker === speaker && turn.signals && turn.begin_ms !== null)
    .map((turn) => ({ x: mid(turn), y: value(turn.signals), turn: turn.index }));
  const ch = result.characteristics || {};
  const effort = (result.outcome && result.outcome.effort) || {};
  const bands = [
    ...((ch.non_talk && ch.non_talk.silences) || []).map((s) => ({ ...s, kind: "silence" })),
    ...((ch.interruptions && ch.interruptions.events) || []).map((s) => ({ ...s, kind: "overtalk" })),
    ...(effort.holds || []).map((s) => ({ ...s, kind: "hold" })),
  ];
  const style = getComputedStyle(document.documentElement);
  const colour = (name) => style.getPropertyValue(name).trim();
  const fills = { silence: colour("--silence"), overtalk: colour("--overtalk"), hold: colour("--hold") };
  const duration = (result.handle_time_ms || result.call.duration_ms) / 1000;

  const bandsPlugin = {
    id: "bands",
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      for (const band of bands) {
        const left = scales.x.getPixelForValue(band.begin_ms / 1000);
        const right = Math.max(scales.x.getPixelForValue(band.end_ms / 1000), left + 2);
        ctx.fillStyle = fills[band.kind];
        ctx.fillRect(left, chartArea.top, right - left, chartArea.bottom - chartArea.top);
      }
      ctx.restore();
    },
  };
  const playheadPlugin = {
    id: "playhead",
    afterDatasetsDraw(chart) {
      if (!audio) return;
      const { ctx, chartArea, scales } = chart;
      const x = scales.x.getPixelForValue(position());
      ctx.save();
      ctx.strokeStyle = colour("--playhead");
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.restore();
    },
  };
  return new Chart(canvas, {
    type: "line",
    data: { datasets: [
      { label: "Customer sentiment", data: points("CUSTOMER", (s) => s.sentiment.positive - s.sentiment.negative),
        yAxisID: "sentiment", borderColor: colour("--customer"), backgroundColor: colour("--customer"), tension: 0.25 },
      { label: "Agent energy", data: points("AGENT", (s) => s.arousal),
        yAxisID: "energy", borderColor: colour("--agent"), backgroundColor: colour("--agent"), tension: 0.25 },
    ] },
    options: {
      animation: false, maintainAspectRatio: false, parsing: true,
      interaction: { mode: "nearest", intersect: false },
      scales: {
        x: { type: "linear", min: 0, max: duration, title: { display: true, text: "time in the call" },
             ticks: { callback: (v) => `${Math.floor(v / 60)}:${String(Math.floor(v % 60)).padStart(2, "0")}` } },
        sentiment: { position: "left", min: -1, max: 1, title: { display: true, text: "customer sentiment" } },
        energy: { position: "right", min: 0, max: 1, grid: { drawOnChartArea: false }, title: { display: true, text: "agent energy" } },
      },
      plugins: { tooltip: { callbacks: { title: (items) => items.length ? `turn ${items[0].raw.turn + 1}` : "" } } },
      onClick(event, _, chart) {
        playFrom(Math.max(0, chart.scales.x.getValueForPixel(event.x)));
      },
    },
    plugins: [bandsPlugin, playheadPlugin],
  });
}

const timeline = drawTimeline();

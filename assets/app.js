// Tessera browser client: the join form, the call view and their controls.
// Signaling and media live in session.js; capture and level metering in media.js.

import { Session } from './session.js';
import { openCapture } from './media.js';

const $ = (id) => document.getElementById(id);

const MESSAGES = {
  invalid_room: 'That room name cannot be used: use 1–64 letters, digits, "_" or "-".',
  invalid_name: 'Please use a name of 1–64 characters.',
  kicked: 'An administrator removed you from the room.',
  room_closed: 'The room was closed.',
  server_shutdown: 'The server is restarting; reconnecting…',
  media_timeout: 'The server received no media from you; reconnecting…',
  media_error: 'The server could not use your media; reconnecting…',
  layout_locked: 'An administrator has locked this room\'s layout.',
  invalid_layout: 'That layout cannot be used.',
  internal_error: 'The server had a problem; reconnecting…',
  // These mean the page and the server disagree (an old page, a proxy in between): rare.
  bad_json: 'The server could not read a message from this page. Reloading the page may help.',
  unknown_type: 'The server does not know a message this page sent. Reloading the page may help.',
  invalid_message: 'The server refused a message from this page. Reloading the page may help.',
  not_joined: 'The server lost track of this page\'s join; reconnecting…',
  already_joined: 'This connection has already joined a room. Reload the page to join again.',
  invalid_sdp: 'Your browser\'s media answer was refused by the server.',
  invalid_candidate: 'The server could not use a network address from your browser.',
  message_too_large: 'A message from this page was too large for the server.',
};
const STATE_TEXT = {
  connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', failed: 'Connection failed', left: 'Left',
};

let session;
let localStream;
let speaker = null;
let picked = null;
let tiles = { canvas: null, participants: [] };
const mutes = new Map();
let muted = { audio: false, video: false };

function prefill() {
  const params = new URLSearchParams(location.search);
  $('room').value = params.get('room') ?? $('room').value;
  $('name').value = params.get('name') ?? localStorage.getItem('tessera.name') ?? '';
  if (!$('name').value) $('name').focus();
}

function showProblem(text, { asViewer = false, retry = false, sticky = false } = {}) {
  $('problem-text').textContent = text;
  $('problem').dataset.sticky = sticky ? 'yes' : '';
  $('as-viewer').hidden = !asViewer;
  $('retry').hidden = !retry;
  $('problem').hidden = false;
}

function clearProblem() {
  $('problem').hidden = true;
  $('problem').dataset.sticky = '';
}

function setState(state) {
  const el = $('state');
  el.hidden = state === 'left'; // back at the form: nothing to show

  el.dataset.state = state;
  el.textContent = STATE_TEXT[state] ?? state;
  // A note about the devices (e.g. no camera found) stays; connection problems clear.
  if (state === 'connected' && !$('problem').dataset.sticky) clearProblem();
  if (state === 'failed') showProblem('Could not reach the server.', { retry: true });
}

function renderParticipants(list = session?.participants ?? []) {
  $('count').textContent = list.length;
  $('participants').replaceChildren(...list.map((p) => {
    const li = document.createElement('li');
    li.dataset.id = p.id;
    li.classList.toggle('speaking', p.id === speaker);
    li.classList.toggle('picked', p.id === picked);
    const role = document.createElement('span');
    role.className = 'role';
    role.textContent = p.role === 'viewer' ? ' (watching)' : '';
    const flags = document.createElement('span');
    flags.className = 'flags';
    const m = mutes.get(p.id);
    flags.textContent = [m?.audio && ' · mic off', m?.video && ' · camera off', p.id === speaker && ' · speaking'].filter(Boolean).join('');
    li.append(p.id === session?.participantId ? `${p.name} (you)` : p.name, role, flags);
    return li;
  }));
}

// Maps a click on the composite to a participant, with the tiles from the DataChannel.
function pickAt(ev) {
  const video = $('composite');
  if (!tiles.canvas || !video.clientWidth) return;
  const x = (ev.offsetX / video.clientWidth) * tiles.canvas.width;
  const y = (ev.offsetY / video.clientHeight) * tiles.canvas.height;
  const hit = tiles.participants.find((p) => p.tile && x >= p.tile.x && x < p.tile.x + p.tile.w && y >= p.tile.y && y < p.tile.y + p.tile.h);
  picked = hit?.id ?? null;
  renderParticipants();
}

async function play() {
  try {
    await $('composite').play();
    $('play').hidden = true;
  } catch {
    $('play').hidden = false; // autoplay blocked: wait for a click
  }
}

function showCall(show, room) {
  $('join-form').hidden = show;
  $('call').hidden = !show;
  $('room-label').hidden = !show;
  $('room-label').textContent = room ? `Room ${room}` : '';
  document.title = show ? `${room} · Tessera` : 'Tessera';
}

function updateMuteButtons() {
  const has = (kind) => !!localStream?.getTracks().some((t) => t.kind === kind);
  for (const [id, kind, on, off] of [['mute-mic', 'audio', 'Unmute microphone', 'Mute microphone'],
    ['mute-camera', 'video', 'Turn camera on', 'Turn camera off']]) {
    const b = $(id);
    b.disabled = !has(kind);
    b.setAttribute('aria-pressed', String(muted[kind]));
    b.textContent = muted[kind] ? on : off;
  }
}

async function join(role) {
  clearProblem();
  const room = $('room').value.trim();
  const name = $('name').value.trim();
  if (!$('join-form').reportValidity()) return;
  localStorage.setItem('tessera.name', name);
  localStream = undefined;
  if (role === 'publisher') {
    try {
      const { stream, note } = await openCapture();
      localStream = stream;
      if (note) showProblem(note, { asViewer: true, sticky: true });
    } catch (e) {
      showProblem(`${e.message} You can still join to watch and listen.`, { asViewer: true });
      return;
    }
  }
  muted = { audio: false, video: false };
  updateMuteButtons();
  history.replaceState(null, '', `?room=${encodeURIComponent(room)}`);
  showCall(true, room);
  // The button that was pressed is gone with the form: keep keyboard focus in the call.
  (role === 'publisher' && !$('mute-mic').disabled ? $('mute-mic') : $('leave')).focus();
  startSession({ room, name, role });
}

function startSession(opts) {
  session = new Session({ ...opts, localStream });
  session.addEventListener('state', (e) => setState(e.detail));
  session.addEventListener('participants', (e) => renderParticipants(e.detail));
  session.addEventListener('speaker', (e) => { speaker = e.detail; renderParticipants(); });
  session.addEventListener('layout', (e) => { $('layout').value = e.detail.mode; $('layout').disabled = !!e.detail.locked; });
  session.addEventListener('mute', (e) => { mutes.set(e.detail.participantId, e.detail); renderParticipants(); });
  session.addEventListener('room', (e) => {
    if (e.detail.type === 'participants') tiles = e.detail;
  });
  session.addEventListener('stream', (e) => {
    const video = $('composite');
    if (video.srcObject !== e.detail) video.srcObject = e.detail;
    play();
  });
  session.addEventListener('problem', (e) => {
    const { code, message, fatal } = e.detail;
    showProblem(MESSAGES[code] ?? `${message} (${code})`);
    if (fatal) finish();
  });
  setState('connecting');
  session.start();
  // A session started again ("Try again") carries the buttons' mute state.
  for (const kind of ['audio', 'video']) if (muted[kind]) session.setMuted(kind, true);
}

function finish() {
  localStream?.getTracks().forEach((t) => t.stop());
  localStream = undefined;
  $('composite').srcObject = null;
  $('state').hidden = true;
  showCall(false);
  $('name').focus();
}

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  join(ev.submitter?.value === 'viewer' ? 'viewer' : 'publisher');
});
$('as-viewer').addEventListener('click', () => {
  if (!$('call').hidden) { // joined with only some devices: leave, then watch
    session?.leave();
    finish();
  }
  join('viewer');
});
$('retry').addEventListener('click', () => {
  clearProblem();
  startSession({ room: session.room, name: session.name, role: session.role });
});
$('play').addEventListener('click', play);
$('composite').addEventListener('click', pickAt);
$('layout').addEventListener('change', () => session?.setLayout({ mode: $('layout').value }));
$('leave').addEventListener('click', () => {
  session?.leave();
  clearProblem();
  finish();
});
for (const [id, kind] of [['mute-mic', 'audio'], ['mute-camera', 'video']]) {
  $(id).addEventListener('click', () => {
    muted[kind] = !muted[kind];
    session?.setMuted(kind, muted[kind]);
    updateMuteButtons();
  });
}

// Diagnostics for the curious (and for the end-to-end tests): window.tessera.
async function inbound(kind) {
  let found = {};
  (await session?.pc?.getStats())?.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === kind) found = s;
  });
  return found;
}

window.tessera = {
  get state() { return session?.state; },
  get participantId() { return session?.participantId; },
  get participants() { return session?.participants ?? []; },
  get pc() { return session?.pc; },
  get picked() { return picked; },
  get tiles() { return tiles; },
  get speaker() { return speaker; },
  // Decoding and reception figures from getStats().
  async stats() {
    if (!session?.pc) return null;
    const [video, audio] = [await inbound('video'), await inbound('audio')];
    let rtt;
    (await session.pc.getStats()).forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime;
    });
    const quality = $('composite').getVideoPlaybackQuality?.();
    return {
      framesDecoded: video.framesDecoded ?? 0,
      // Frames the <video> element itself took (headless Firefox reports 0 here).
      elementFrames: quality?.totalVideoFrames ?? 0,
      frameWidth: video.frameWidth ?? 0,
      frameHeight: video.frameHeight ?? 0,
      audioPackets: audio.packetsReceived ?? 0,
      videoJitterMs: video.jitter !== undefined ? Math.round(video.jitter * 1000) : null,
      audioJitterMs: audio.jitter !== undefined ? Math.round(audio.jitter * 1000) : null,
      rttMs: rtt !== undefined ? Math.round(rtt * 1000) : null,
    };
  },
  // The mean level of the received audio over the next `ms`, in dBFS (from totalAudioEnergy).
  async receivedLevelDb(ms = 500) {
    const a = await inbound('audio');
    await new Promise((r) => setTimeout(r, ms));
    const b = await inbound('audio');
    const energy = (b.totalAudioEnergy ?? 0) - (a.totalAudioEnergy ?? 0);
    const secs = (b.totalSamplesDuration ?? 0) - (a.totalSamplesDuration ?? 0);
    return secs > 0 && energy > 0 ? 10 * Math.log10(energy / secs) : -200;
  },
};

prefill();

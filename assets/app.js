// Tessera browser client: the join form, the call view and their controls.
// Signaling and media live in session.js; capture in media.js; what each server error says and
// does in messages.js; window.tessera (diagnostics) in diagnostics.js.

import { Session, MAX_ATTEMPTS } from './session.js';
import { openCapture } from './media.js';
import { serverError } from './messages.js';
import { installDiagnostics } from './diagnostics.js';
import { clearChat, showCaption, showChat, wireChatForm } from './chat.js';

const $ = (id) => document.getElementById(id);

const STATE_TEXT = {
  connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', failed: 'Connection failed', left: 'Left',
};

let session;
let localStream;
let speaker = null;
let picked = null;
let tiles = { canvas: null, participants: [] };
let mutes = new Map();
let muted = { audio: false, video: false };

// `?relay=1`: media only through the TURN servers the server hands out (iceTransportPolicy
// "relay"), to check that TURN works from this network; a call that cannot relay fails.
const RELAY_ONLY = new URLSearchParams(location.search).get('relay') === '1';

// `?codec=h264` (or `vp8`): the video codec to publish in, when negotiated (see preferCodec
// and sendIn in session.js). The composite still comes in the server's choice.
const VIDEO_CODEC = new URLSearchParams(location.search).get('codec')?.toLowerCase() || undefined;

// The access token of the link, if any: `#token=` (kept out of server and proxy logs, as a
// fragment never leaves the browser) or `?token=`.
function accessToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  return hash.get('token') ?? new URLSearchParams(location.search).get('token') ?? undefined;
}

function prefill() {
  const params = new URLSearchParams(location.search);
  $('room').value = params.get('room') ?? $('room').value;
  $('name').value = params.get('name') ?? localStorage.getItem('tessera.name') ?? '';
  if (!$('name').value) $('name').focus();
}

// One message at a time, with the ways forward that fit it.
function showProblem(text, { asViewer = false, retry = false, dismiss = false, sticky = false } = {}) {
  $('problem-text').textContent = text;
  $('problem').dataset.sticky = sticky ? 'yes' : '';
  $('as-viewer').hidden = !asViewer;
  $('retry').hidden = !retry;
  $('dismiss').hidden = !dismiss;
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
  if (state === 'failed') {
    const last = session?.lastError;
    const why = last ? serverError(last.code, last.message).text : 'Could not reach the server.';
    showProblem(`${why} Gave up after ${MAX_ATTEMPTS} attempts.`, { retry: true });
    $('retry').focus();
  }
}

function showRecording(ids) {
  $('recording').hidden = ids.size === 0;
}

function renderParticipants(list = session?.participants ?? []) {
  // The list is rebuilt: keep keyboard focus on the same person's entry.
  const focused = document.activeElement?.closest('#participants li')?.dataset.id;
  $('count').textContent = list.length;
  $('participants').replaceChildren(...list.map((p) => {
    const li = document.createElement('li');
    li.dataset.id = p.id;
    li.classList.toggle('speaking', p.id === speaker);
    // A button per person: the keyboard's way to find someone in the composite.
    const who = document.createElement('button');
    who.type = 'button';
    who.className = 'who';
    who.setAttribute('aria-pressed', String(p.id === picked));
    who.title = 'Show where they are in the picture';
    const role = document.createElement('span');
    role.className = 'role';
    role.textContent = { viewer: ' (watching)', agent: ' (bot)' }[p.role] ?? '';
    const flags = document.createElement('span');
    flags.className = 'flags';
    const m = mutes.get(p.id);
    flags.textContent = [m?.audio && ' · mic off', m?.video && ' · camera off', p.id === speaker && ' · speaking'].filter(Boolean).join('');
    who.append(p.id === session?.participantId ? `${p.name} (you)` : p.name, role, flags);
    who.addEventListener('click', () => pick(picked === p.id ? null : p.id));
    li.append(who);
    return li;
  }));
  if (focused) $('participants').querySelector(`li[data-id="${CSS.escape(focused)}"] button`)?.focus();
  showPicked();
}

// The picture area of the composite inside the <video> element (object-fit: contain).
function pictureBox() {
  const video = $('composite');
  const { width: cw, height: ch } = tiles.canvas ?? {};
  if (!cw || !video.clientWidth) return null;
  const scale = Math.min(video.clientWidth / cw, video.clientHeight / ch);
  return { scale, left: (video.clientWidth - cw * scale) / 2, top: (video.clientHeight - ch * scale) / 2 };
}

// Outlines the picked participant's tile on the composite, with their name.
function showPicked() {
  const outline = $('pick-outline');
  const tile = tiles.participants.find((p) => p.id === picked)?.tile;
  const box = pictureBox();
  outline.hidden = !tile || !box;
  if (outline.hidden) return;
  const video = $('composite');
  Object.assign(outline.style, {
    left: `${video.offsetLeft + box.left + tile.x * box.scale}px`,
    top: `${video.offsetTop + box.top + tile.y * box.scale}px`,
    width: `${tile.w * box.scale}px`,
    height: `${tile.h * box.scale}px`,
  });
  const label = document.createElement('span');
  label.textContent = tiles.participants.find((p) => p.id === picked)?.name ?? '';
  outline.replaceChildren(label);
}

function pick(id) {
  picked = id;
  renderParticipants();
}

// Maps a click on the composite to a participant, with the tiles from the DataChannel.
function pickAt(ev) {
  const box = pictureBox();
  if (!box) return;
  const x = (ev.offsetX - box.left) / box.scale;
  const y = (ev.offsetY - box.top) / box.scale;
  const hit = tiles.participants.find((p) => p.tile && x >= p.tile.x && x < p.tile.x + p.tile.w && y >= p.tile.y && y < p.tile.y + p.tile.h);
  pick(hit?.id ?? null);
}

// Starts playback; if the browser blocks it (autoplay without a gesture), a button asks for a
// click. play() runs once per incoming track, so an earlier call may reject after a later one
// succeeded: the video's own state decides.
async function play() {
  const video = $('composite');
  try {
    await video.play();
  } catch {
    // blocked, or superseded by a newer call
  }
  $('play').hidden = !video.paused;
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
  const codec = VIDEO_CODEC ? `&codec=${encodeURIComponent(VIDEO_CODEC)}` : '';
  history.replaceState(null, '', `?room=${encodeURIComponent(room)}${RELAY_ONLY ? '&relay=1' : ''}${codec}`);
  showCall(true, room);
  // The button that was pressed is gone with the form: keep keyboard focus in the call.
  (role === 'publisher' && !$('mute-mic').disabled ? $('mute-mic') : $('leave')).focus();
  startSession({ room, name, role, token: accessToken() });
}

function onProblem({ code, message, then }) {
  if (code === 'client_error') {
    showProblem('This page ran into a problem of its own (the browser console has the details). Reloading the page may help.', { dismiss: true });
    return;
  }
  const { text } = serverError(code, message);
  if (then === 'rejoin') showProblem(`${text} Reconnecting…`);
  else showProblem(text, { dismiss: then === 'notice' });
  if (then === 'leave') finish();
}

function startSession(opts) {
  session = new Session({ ...opts, localStream, relayOnly: RELAY_ONLY, videoCodec: VIDEO_CODEC });
  mutes = new Map();
  session.addEventListener('state', (e) => setState(e.detail));
  session.addEventListener('participants', (e) => {
    const here = new Set(e.detail.map((p) => p.id));
    for (const id of mutes.keys()) if (!here.has(id)) mutes.delete(id);
    if (picked && !here.has(picked)) picked = null;
    renderParticipants(e.detail);
  });
  session.addEventListener('speaker', (e) => { speaker = e.detail; renderParticipants(); });
  session.addEventListener('layout', (e) => { $('layout').value = e.detail.mode; $('layout').disabled = !!e.detail.locked; });
  session.addEventListener('mute', (e) => { mutes.set(e.detail.participantId, e.detail); renderParticipants(); });
  session.addEventListener('recording', (e) => showRecording(e.detail));
  session.addEventListener('room', (e) => {
    if (e.detail.type === 'participants') {
      tiles = e.detail;
      showPicked();
    }
  });
  session.addEventListener('stream', (e) => {
    const video = $('composite');
    if (video.srcObject !== e.detail) video.srcObject = e.detail;
    play();
  });
  session.addEventListener('problem', (e) => onProblem(e.detail));
  session.addEventListener('chat', (e) => showChat(e.detail));
  session.addEventListener('caption', (e) => showCaption(e.detail));
  clearChat();
  session.start();
  // A session started again ("Try again") carries the buttons' mute state.
  for (const kind of ['audio', 'video']) if (muted[kind]) session.setMuted(kind, true);
}

function finish() {
  localStream?.getTracks().forEach((t) => t.stop());
  localStream = undefined;
  $('composite').srcObject = null;
  $('state').hidden = true;
  showRecording(new Set());
  picked = null;
  tiles = { canvas: null, participants: [] };
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
  startSession({ room: session.room, name: session.name, role: session.role, token: session.token });
  $('leave').focus();
});
$('dismiss').addEventListener('click', () => {
  clearProblem();
  if (!$('call').hidden) $('leave').focus();
});
$('play').addEventListener('click', play);
$('composite').addEventListener('playing', () => { $('play').hidden = true; });
$('composite').addEventListener('click', pickAt);
new ResizeObserver(showPicked).observe($('composite'));
wireChatForm((text) => session?.chat(text));
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

installDiagnostics({ session: () => session, picked: () => picked, tiles: () => tiles, speaker: () => speaker });
prefill();

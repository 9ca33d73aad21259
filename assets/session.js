// A Tessera session: one WebSocket (signaling) and one RTCPeerConnection (media), rebuilt on
// reconnect. Protocol: docs/protocol.md. Emits:
//   'state'        detail: 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'left'
//   'joined'       detail: { participantId, room }
//   'participants' detail: [{ id, name, role }] (everyone, including us; empty while reconnecting)
//   'stream'       detail: MediaStream of the composite (video + mix)
//   'problem'      detail: { code, message, then } (then: see messages.js)
//   'speaker'      detail: participantId | null
//   'layout'       detail: { mode, pinned?, regions?, locked }
//   'mute'         detail: { participantId, audio, video }
//   'recording'    detail: Set of the ids of the room's recordings in progress
//   'room'         detail: a message of the `tessera` DataChannel (participants with tiles, …)
//   'constraints'  detail: { requested, applied } after our video sender follows `videoConstraints`

import { serverError } from './messages.js';
import { applyVideoConstraints } from './constraints.js';

// Attempts before giving up ("failed"), and the backoff between them: 0.5, 1, 2, 4, 5, 5… s.
export const MAX_ATTEMPTS = 8;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 5000;
// An attempt that has not connected media by then is abandoned and retried: whatever held it
// up (a join the server never answered, ICE that never completes) must not leave the page
// sitting at "Connecting…".
const CONNECT_TIMEOUT_MS = 30000;
// Redirects followed in a row without joining (a fleet's servers disagreeing for a moment)
// before the attempt counts as failed and waits its backoff.
const MAX_REDIRECTS = 3;

export class Session extends EventTarget {
  // relayOnly: ICE uses only relay candidates (the TURN servers from `joined`).
  // videoCodec: 'h264' or 'vp8', the codec to publish video in (see preferCodec).
  constructor({ room, name, role, token, localStream, relayOnly = false, videoCodec }) {
    super();
    Object.assign(this, { room, name, role, token, localStream, relayOnly, videoCodec });
    // The TURN servers (with credentials minted for this join) from the last `joined`.
    this.iceServers = [];
    this.state = 'connecting';
    this.attempt = 0;
    this.closedByUs = false;
    this.participants = [];
    this.recordings = new Set();
    // Why the last attempt ended, when the server said why: { code, message }.
    this.lastError = null;
  }

  start() {
    this.closedByUs = false;
    this.#emit('state', this.state);
    this.#connect();
  }

  leave() {
    this.closedByUs = true;
    this.#send({ type: 'leave' });
    this.#teardown();
    this.#setState('left');
  }

  // Enables or disables our local track of `kind` ('audio' or 'video') and tells the room.
  setMuted(kind, muted) {
    for (const t of this.localStream?.getTracks() ?? []) if (t.kind === kind) t.enabled = !muted;
    this.muted = { ...(this.muted ?? { audio: false, video: false }), [kind]: muted };
    this.#send({ type: 'mute', ...this.muted });
  }

  // Asks for a layout: { mode: 'grid' | 'speaker' | 'spotlight', pinned? }.
  chat(text) {
    this.#send({ type: 'chat', text });
  }

  setLayout(layout) {
    this.#send({ type: 'setLayout', layout });
  }

  #emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.#emit('state', state);
  }

  #connect() {
    this.lastError = null; // the reason given to a failed attempt is about that attempt only
    // A redirect names the server of the room for the next connection only; every other
    // attempt starts at this page's server, which knows where the room is by then.
    const server = this.redirectTo ?? `${location.protocol}//${location.host}`;
    this.redirectTo = null;
    const ws = new WebSocket(`${server.replace(/^http/, 'ws')}/ws`);
    this.ws = ws;
    this.pending = [];
    this.connectTimer = setTimeout(() => this.#lost(), CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      const join = { type: 'join', room: this.room, name: this.name, role: this.role };
      if (this.token) join.token = this.token;
      this.#send(join);
    };
    ws.onmessage = (ev) => this.#onMessage(JSON.parse(ev.data)).catch((e) => {
      console.error('handling a server message failed', e); // a bug here must not pass quietly
      this.#emit('problem', { code: 'client_error', message: String(e), then: 'notice' });
    });
    ws.onclose = () => {
      if (this.ws === ws) this.#lost();
    };
  }

  // The connection (or this attempt at one) is gone: forget what it told us, try again.
  #lost() {
    this.redirects = 0;
    this.#teardown();
    if (this.participants.length) {
      this.participants = []; // unknown until we are back
      this.#emit('participants', this.participants);
    }
    if (!this.closedByUs) this.#retry();
  }

  #retry() {
    this.attempt += 1;
    if (this.attempt > MAX_ATTEMPTS) {
      this.#setState('failed');
      return;
    }
    this.#setState('reconnecting');
    const delay = Math.min(FIRST_DELAY_MS * 2 ** (this.attempt - 1), MAX_DELAY_MS);
    this.retryTimer = setTimeout(() => this.#connect(), delay);
  }

  // The room runs on another server of the fleet: the same join there, at once.
  #redirect(url) {
    this.redirects = (this.redirects ?? 0) + 1;
    if (this.redirects > MAX_REDIRECTS) {
      this.#lost();
      return;
    }
    this.#teardown();
    this.redirectTo = url;
    this.#connect();
  }

  #teardown() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    this.pc?.close();
    this.pc = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
  }

  #send(msg) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  #onError({ code, message }) {
    const { then } = serverError(code, message);
    this.#emit('problem', { code, message, then });
    if (then === 'leave') {
      this.closedByUs = true;
      this.#teardown();
      this.#setState('left');
    } else if (then === 'rejoin') {
      this.lastError = { code, message };
      this.#lost();
    }
  }

  #recording(id, on) {
    if (on) this.recordings.add(id);
    else this.recordings.delete(id);
    this.#emit('recording', new Set(this.recordings));
  }

  async #onMessage(msg) {
    switch (msg.type) {
      case 'redirect':
        this.#redirect(msg.url);
        break;
      case 'joined':
        this.redirects = 0;
        this.participantId = msg.participantId;
        // The offer follows `joined`: the peer connection is built with these when it comes.
        this.iceServers = msg.iceServers ?? [];
        if (this.relayOnly && !this.iceServers.length) console.warn('relay only, but the server hands out no TURN server');
        this.participants = [...msg.participants, { id: msg.participantId, name: this.name, role: this.role }];
        this.recordings.clear(); // the server lists the recordings in progress right after
        this.#emit('joined', { participantId: msg.participantId, room: msg.room });
        this.#emit('participants', this.participants);
        this.#emit('recording', new Set());
        break;
      case 'participantJoined':
        this.participants = [...this.participants, msg.participant];
        this.#emit('participants', this.participants);
        break;
      case 'participantLeft':
        this.participants = this.participants.filter((p) => p.id !== msg.participantId);
        this.#emit('participants', this.participants);
        break;
      case 'offer':
        await this.#answer(msg.sdp);
        if (this.muted) this.#send({ type: 'mute', ...this.muted });
        break;
      case 'speakerChanged':
        this.#emit('speaker', msg.participantId);
        break;
      case 'layoutChanged':
        this.#emit('layout', msg.layout);
        break;
      case 'muteChanged':
        this.#emit('mute', msg);
        break;
      case 'chat':
        this.#emit('chat', msg);
        break;
      case 'caption':
        this.#emit('caption', msg);
        break;
      case 'recordingStarted':
        this.#recording(msg.recordingId, true);
        break;
      case 'recordingStopped':
        this.#recording(msg.recordingId, false);
        break;
      case 'ice':
        if (this.pc?.remoteDescription) await this.#addCandidate(msg);
        else this.pending.push(msg);
        break;
      case 'error':
        this.#onError(msg);
        break;
      case 'videoConstraints':
        this.#constrain(msg);
        break;
    }
  }

  // Follows the server's `videoConstraints` (on the socket or the DataChannel, the same
  // value): kept for the next peer connection, applied to the current one. Calls are chained,
  // so two setParameters never race over one sender's parameters.
  #constrain(c) {
    if (c) this.videoConstraints = { width: c.width, height: c.height, fps: c.fps, maxBitrate: c.maxBitrate };
    const requested = this.videoConstraints;
    const sender = this.pc?.getSenders().find((s) => s.track?.kind === 'video');
    if (!requested || !sender) return;
    this.constraining = (this.constraining ?? Promise.resolve()).then(async () => {
      const applied = await applyVideoConstraints(sender, requested);
      if (!applied) return;
      this.constraintsApplied = { requested, applied };
      this.#emit('constraints', this.constraintsApplied);
    });
  }

  async #addCandidate({ candidate, sdpMLineIndex }) {
    try {
      await this.pc.addIceCandidate({ candidate, sdpMLineIndex });
    } catch (e) {
      // A candidate the browser cannot use (e.g. an unreachable address family) is not fatal.
      console.debug('ignored ICE candidate', candidate, e);
    }
  }

  async #answer(sdp) {
    const pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      iceServers: this.iceServers,
      iceTransportPolicy: this.relayOnly ? 'relay' : 'all',
    });
    this.pc = pc;
    const remote = new MediaStream();
    pc.ontrack = (ev) => {
      remote.addTrack(ev.track);
      this.#emit('stream', remote);
    };
    pc.onicecandidate = (ev) => {
      if (ev.candidate?.candidate) {
        this.#send({ type: 'ice', candidate: ev.candidate.candidate, sdpMLineIndex: ev.candidate.sdpMLineIndex ?? 0 });
      }
    };
    pc.ondatachannel = (ev) => {
      if (ev.channel.label !== 'tessera') return;
      ev.channel.onmessage = (m) => {
        const msg = JSON.parse(m.data);
        if (msg.type === 'videoConstraints') this.#constrain(msg);
        this.#emit('room', msg);
      };
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === 'connected') {
        clearTimeout(this.connectTimer);
        this.attempt = 0;
        this.lastError = null;
        this.#setState('connected');
      } else if (pc.connectionState === 'failed') {
        this.#lost();
      }
    };
    await pc.setRemoteDescription({ type: 'offer', sdp });
    for (const t of pc.getTransceivers()) {
      const track = this.localStream?.getTracks().find((x) => x.kind === t.receiver.track.kind);
      if (track) {
        await t.sender.replaceTrack(track);
        t.direction = 'sendrecv';
      } else {
        t.direction = 'recvonly';
      }
      if (t.receiver.track.kind === 'video' && this.videoCodec) preferCodec(t, this.videoCodec);
    }
    const answer = await pc.createAnswer();
    this.#send({ type: 'answer', sdp: answer.sdp });
    await pc.setLocalDescription(answer);
    const video = pc.getTransceivers().find((t) => t.receiver.track.kind === 'video' && t.sender.track);
    if (video && this.videoCodec) await sendIn(video.sender, this.videoCodec);
    this.#constrain(); // a reconnect's new sender follows what the server last asked
    for (const c of this.pending.splice(0)) await this.#addCandidate(c);
  }
}

// Whether the codec `c` (an RTCRtpCodec) is `codec` ('h264' or 'vp8'); for H.264 only in
// packetization mode 1, the mode Tessera's offer carries.
function isCodec(c, codec) {
  const mime = { h264: 'video/h264', vp8: 'video/vp8' }[codec];
  return c.mimeType.toLowerCase() === mime && (codec !== 'h264' || /packetization-mode=1/.test(c.sdpFmtpLine ?? ''));
}

// Puts `codec` first on a video transceiver, between setRemoteDescription and createAnswer:
// the answer then names it as the codec this page would rather receive. It does not choose
// what the page sends: Chromium sends in the first codec of the *offer* its answer kept (the
// server offers VP8 first), so sendIn() picks that once the answer is set.
export function preferCodec(transceiver, codec) {
  const all = globalThis.RTCRtpReceiver?.getCapabilities?.('video')?.codecs ?? [];
  if (!transceiver.setCodecPreferences || !all.some((c) => isCodec(c, codec))) return;
  transceiver.setCodecPreferences([...all.filter((c) => isCodec(c, codec)), ...all.filter((c) => !isCodec(c, codec))]);
}

// Makes `sender` send in `codec` among those the negotiation settled on
// (RTCRtpEncodingParameters.codec). A browser without the codec, or without per-encoding codec
// choice, keeps its own, and says so in the console.
export async function sendIn(sender, codec) {
  const params = sender.getParameters();
  const chosen = params.codecs?.find((c) => isCodec(c, codec));
  if (!chosen || !params.encodings?.length) {
    console.warn(`publishing in the browser's choice of codec: ${codec} was not negotiated`);
    return;
  }
  const { mimeType, clockRate, sdpFmtpLine } = chosen;
  for (const e of params.encodings) e.codec = { mimeType, clockRate, sdpFmtpLine };
  try {
    await sender.setParameters(params);
  } catch (e) {
    console.warn(`publishing in the browser's choice of codec: it refused ${codec}`, e);
  }
}

// A Tessera session: one WebSocket (signaling) and one RTCPeerConnection (media), rebuilt on
// reconnect. Protocol: docs/protocol.md. Emits:
//   'state'        detail: 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'left'
//   'joined'       detail: { participantId, room }
//   'participants' detail: [{ id, name, role }] (everyone, including us)
//   'stream'       detail: MediaStream of the composite (video + mix)
//   'problem'      detail: { code, message, fatal }
//   'speaker'      detail: participantId | null
//   'layout'       detail: { mode, pinned?, regions?, locked }
//   'mute'         detail: { participantId, audio, video }
//   'room'         detail: a message of the `tessera` DataChannel (participants with tiles, …)

const FATAL = new Set(['kicked', 'room_closed', 'invalid_room', 'invalid_name', 'already_joined']);
const MAX_ATTEMPTS = 8;

export class Session extends EventTarget {
  constructor({ room, name, role, localStream }) {
    super();
    Object.assign(this, { room, name, role, localStream });
    this.state = 'connecting';
    this.attempt = 0;
    this.closedByUs = false;
  }

  start() {
    this.closedByUs = false;
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
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    this.pending = [];
    ws.onopen = () => this.#send({ type: 'join', room: this.room, name: this.name, role: this.role });
    ws.onmessage = (ev) => this.#onMessage(JSON.parse(ev.data)).catch((e) => {
      console.error('handling a server message failed', e); // a bug here must not pass quietly
      this.#problem('client_error', String(e), false);
    });
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.#teardown();
      if (!this.closedByUs) this.#retry();
    };
  }

  #retry() {
    this.attempt += 1;
    if (this.attempt > MAX_ATTEMPTS) {
      this.#setState('failed');
      return;
    }
    this.#setState('reconnecting');
    const delay = Math.min(500 * 2 ** (this.attempt - 1), 5000);
    this.retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #teardown() {
    clearTimeout(this.retryTimer);
    this.pc?.close();
    this.pc = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
  }

  #send(msg) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  #problem(code, message, fatal) {
    this.#emit('problem', { code, message, fatal });
  }

  async #onMessage(msg) {
    switch (msg.type) {
      case 'joined':
        this.participantId = msg.participantId;
        this.participants = [...msg.participants, { id: msg.participantId, name: this.name, role: this.role }];
        this.#emit('joined', { participantId: msg.participantId, room: msg.room });
        this.#emit('participants', this.participants);
        break;
      case 'participantJoined':
        this.participants = [...(this.participants ?? []), msg.participant];
        this.#emit('participants', this.participants);
        break;
      case 'participantLeft':
        this.participants = (this.participants ?? []).filter((p) => p.id !== msg.participantId);
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
      case 'ice':
        if (this.pc?.remoteDescription) await this.#addCandidate(msg);
        else this.pending.push(msg);
        break;
      case 'error': {
        const fatal = FATAL.has(msg.code);
        this.#problem(msg.code, msg.message, fatal);
        if (fatal) {
          this.closedByUs = true;
          this.#teardown();
          this.#setState('left');
        }
        break;
      }
    }
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
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
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
      ev.channel.onmessage = (m) => this.#emit('room', JSON.parse(m.data));
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === 'connected') {
        this.attempt = 0;
        this.#setState('connected');
      } else if (pc.connectionState === 'failed') {
        this.#teardown();
        this.#retry();
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
    }
    const answer = await pc.createAnswer();
    this.#send({ type: 'answer', sdp: answer.sdp });
    await pc.setLocalDescription(answer);
    for (const c of this.pending.splice(0)) await this.#addCandidate(c);
  }
}

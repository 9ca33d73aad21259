// Tessera browser client: joins a room over /ws, answers the server's offer, plays the composite.
// Protocol: docs/protocol.md. No build step, no dependencies.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get('room')) $('room').value = params.get('room');
if (params.get('name')) $('name').value = params.get('name');

let ws, pc, localStream;
let pendingCandidates = [];

function setState(s) { $('state').textContent = s; }
function showError(msg) { $('error').textContent = msg; }

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const role = ev.submitter?.value === 'viewer' ? 'viewer' : 'publisher';
  join($('room').value, $('name').value, role);
});
$('leave').addEventListener('click', () => leave());

async function join(room, name, role) {
  showError('');
  if (role === 'publisher') {
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    } catch (e) {
      showError(`Camera or microphone unavailable (${e.name}). You can join as a viewer.`);
      return;
    }
  }
  $('join-form').hidden = true;
  $('call').hidden = false;
  setState('connecting');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  ws = new WebSocket(`${scheme}://${location.host}/ws`);
  ws.onopen = () => send({ type: 'join', room, name, role });
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data)).catch((e) => showError(String(e)));
  ws.onclose = () => { setState('closed'); };
}

function send(msg) {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function renderParticipants(list) {
  const ul = $('participants');
  ul.replaceChildren(...list.map((p) => {
    const li = document.createElement('li');
    li.dataset.id = p.id;
    li.textContent = `${p.name} (${p.role})`;
    return li;
  }));
}

let roster = [];

async function onMessage(msg) {
  switch (msg.type) {
    case 'joined':
      roster = msg.participants;
      renderParticipants(roster);
      break;
    case 'participantJoined':
      roster.push(msg.participant);
      renderParticipants(roster);
      break;
    case 'participantLeft':
      roster = roster.filter((p) => p.id !== msg.participantId);
      renderParticipants(roster);
      break;
    case 'offer':
      await answer(msg.sdp);
      break;
    case 'ice':
      if (pc?.remoteDescription) await pc.addIceCandidate({ candidate: msg.candidate, sdpMLineIndex: msg.sdpMLineIndex });
      else pendingCandidates.push(msg);
      break;
    case 'error':
      showError(`${msg.code}: ${msg.message}`);
      break;
  }
}

async function answer(sdp) {
  pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  const remote = new MediaStream();
  $('composite').srcObject = remote;
  pc.ontrack = (ev) => remote.addTrack(ev.track);
  pc.onicecandidate = (ev) => {
    if (ev.candidate) send({ type: 'ice', candidate: ev.candidate.candidate, sdpMLineIndex: ev.candidate.sdpMLineIndex ?? 0 });
  };
  pc.onconnectionstatechange = () => setState(pc.connectionState);
  await pc.setRemoteDescription({ type: 'offer', sdp });
  if (localStream) {
    for (const t of pc.getTransceivers()) {
      const track = localStream.getTracks().find((x) => x.kind === t.receiver.track.kind);
      if (track) {
        await t.sender.replaceTrack(track);
        t.direction = 'sendrecv';
      }
    }
  }
  const desc = await pc.createAnswer();
  send({ type: 'answer', sdp: desc.sdp });
  await pc.setLocalDescription(desc);
  for (const c of pendingCandidates) await pc.addIceCandidate({ candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex });
  pendingCandidates = [];
}

function leave() {
  send({ type: 'leave' });
  pc?.close();
  localStream?.getTracks().forEach((t) => t.stop());
  pc = undefined; localStream = undefined;
  $('call').hidden = true;
  $('join-form').hidden = false;
}

// WHIP and WHEP (RFC 9725) for whip.html and whep.html: one HTTP POST carries our offer and
// brings back the server's answer; DELETE on the session's Location leaves.

// How long to wait for ICE gathering before offering with what we have: the server answers
// once, so the offer should hold our candidates, but a slow STUN server must not stall us
// (the server still finds us by our connectivity checks, as peer-reflexive candidates).
const GATHER_MS = 3000;

function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(() => done(), GATHER_MS);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

// Offers `pc` (its transceivers already added) to `/{kind}/{room}` and applies the answer.
// Returns the session's URL; throws an Error with the server's own message on refusal.
export async function negotiate(pc, kind, room, name) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const url = `/${kind}/${encodeURIComponent(room)}${name ? `?name=${encodeURIComponent(name)}` : ''}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp,
  });
  const body = await response.text();
  if (response.status !== 201) {
    let why = body;
    try { why = JSON.parse(body).message ?? body; } catch { /* not JSON: the text itself */ }
    throw new Error(`the server refused (${response.status}): ${why}`);
  }
  const location = response.headers.get('Location');
  if (!location) throw new Error('the server answered without a session Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  return new URL(location, response.url).href;
}

// Ends the session (best effort: the server also drops it when its room ends). `leaving`: the
// page is going away, so the request must outlive it (`keepalive`). The answer is read to its
// end: Chromium reports a response whose body nobody read as aborted (net::ERR_ABORTED).
async function hangUp(session, leaving = false) {
  if (session) await fetch(session, { method: 'DELETE', keepalive: leaving }).then((r) => r.arrayBuffer()).catch(() => {});
}

// Shows `state` ('connecting', 'connected', 'failed', 'stopped') in the `#state` badge,
// with `detail` after a failure.
export function showState(state, detail = '') {
  const badge = document.getElementById('state');
  const text = { connecting: 'Connecting…', connected: 'Connected', failed: 'Failed', stopped: 'Stopped' }[state];
  badge.textContent = detail ? `${text}: ${detail}` : text;
  badge.dataset.state = state;
  badge.hidden = false;
}

// Follows the connection into the badge and `status.state`.
export function follow(pc, status) {
  pc.addEventListener('connectionstatechange', () => {
    if (pc.connectionState === 'connected' || pc.connectionState === 'failed') {
      status.state = pc.connectionState;
      showState(pc.connectionState, pc.connectionState === 'failed' ? 'the media connection was lost' : '');
    }
  });
}

// The room and name from the page's address (`?room=r&name=n`).
export function fromAddress() {
  const query = new URLSearchParams(location.search);
  return { room: query.get('room') ?? '', name: query.get('name') ?? '' };
}

// Runs a WHIP or WHEP page: `start()` connects (it sets `status.pc` and `status.session`), the
// `stop` button leaves, `release()` lets go of the page's own media after leaving.
export function runPage(status, start, stop, release) {
  stop.addEventListener('click', async () => {
    stop.disabled = true;
    // The session ends on the server first (RFC 9725 section 4.2), then here.
    await hangUp(status.session);
    status.session = null;
    status.pc?.close();
    release();
    status.state = 'stopped';
    showState('stopped');
  });
  // A page closed or navigated away leaves too, without waiting for ICE to notice.
  addEventListener('pagehide', () => { hangUp(status.session, true); status.session = null; });
  start().then(() => { stop.disabled = false; }, (e) => {
    status.state = 'failed';
    showState('failed', e.message);
  });
}

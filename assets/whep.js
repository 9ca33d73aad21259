// whep.html: watch a room (its composite picture and its full mix) over WHEP.
import { follow, fromAddress, negotiate, runPage, showState } from './whip-client.js';

const { room, name } = fromAddress();
// What the page is doing, for the person and for tests.
const status = { state: 'connecting', session: null, pc: null };
window.whep = status;
document.getElementById('room-label').textContent = room;
const video = document.getElementById('composite');
const play = document.getElementById('play');
const stop = document.getElementById('stop');

// A page that starts itself has had no click, so a browser may refuse to play sound: then
// one click on the overlay starts playback.
function startPlayback() {
  video.play().then(() => { play.hidden = true; }, () => { play.hidden = false; });
}
play.addEventListener('click', startPlayback);

async function start() {
  if (!room) throw new Error('No room: open this page as whep.html?room=ROOM.');
  showState('connecting');
  const pc = new RTCPeerConnection();
  status.pc = pc;
  follow(pc, status);
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  // One stream of both receivers' tracks, made at the first track event (both exist by then):
  // Chromium does not play a track added to a stream after it became the element's source,
  // and the server's answer names a stream for the video alone. Not earlier: a source set
  // before the page loaded would hold its load event until media flows.
  pc.addEventListener('track', () => {
    if (video.srcObject) return;
    video.srcObject = new MediaStream(pc.getReceivers().map((r) => r.track));
    startPlayback();
  });
  status.session = await negotiate(pc, 'whep', room, name);
}

runPage(status, start, stop, () => {
  video.srcObject = null;
});

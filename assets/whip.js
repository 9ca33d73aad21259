// whip.html: publish this camera and microphone to a room over WHIP.
import { openCapture } from './media.js';
import { follow, fromAddress, negotiate, runPage, showState } from './whip-client.js';

const { room, name } = fromAddress();
// What the page is doing, for the person and for tests.
const status = { state: 'connecting', session: null, pc: null };
window.whip = status;
document.getElementById('room-label').textContent = room;
const stop = document.getElementById('stop');
const preview = document.getElementById('preview');

async function start() {
  if (!room) throw new Error('No room: open this page as whip.html?room=ROOM&name=NAME.');
  showState('connecting');
  const { stream } = await openCapture();
  preview.srcObject = stream;
  const pc = new RTCPeerConnection();
  status.pc = pc;
  follow(pc, status);
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  status.session = await negotiate(pc, 'whip', room, name);
}

runPage(status, start, stop, () => {
  for (const track of preview.srcObject?.getTracks() ?? []) track.stop();
});

// Sending what our tile needs: the server's `videoConstraints` (docs/protocol.md#video-constraints)
// applied to our video sender with RTCRtpSender.setParameters. The box is where our picture is
// drawn; the browser scales its camera down to fit inside it (never up), caps the frame rate
// and the bitrate.

// How much a `width` x `height` picture is scaled down to fit in the box `c` (at least 1).
export function scaleFor(width, height, c) {
  if (!width || !height || !c.width || !c.height) return 1;
  return Math.max(1, width / c.width, height / c.height);
}

// Applies `c` to `sender` (a video sender with a track). Returns what was set, or null when
// there is nothing to apply it to; a browser that refuses keeps sending as before (the server
// copes with any size) and says so in the console.
export async function applyVideoConstraints(sender, c) {
  const track = sender?.track;
  if (!track || track.kind !== 'video') return null;
  const { width, height } = track.getSettings();
  const params = sender.getParameters();
  if (!params.encodings?.length) params.encodings = [{}];
  // Hold the size asked for (the tile's; frame rate gives way under pressure): with the default
  // 'balanced', Chromium restarted each change at 240x180 and took 11-24 s to climb back to a
  // 480x360 tile. Browsers without it ignore it.
  params.degradationPreference = 'maintain-resolution';
  const set = { scaleResolutionDownBy: scaleFor(width, height, c), maxBitrate: c.maxBitrate, maxFramerate: c.fps };
  for (const e of params.encodings) Object.assign(e, set);
  try {
    await sender.setParameters(params);
  } catch (e) {
    console.warn('the browser refused the video constraints', c, e);
    return null;
  }
  return { ...set, track: { width, height } };
}

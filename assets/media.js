// Local capture with graceful fallbacks.

// Asks for camera and microphone; falls back to whichever exists. Returns
// { stream, note } or throws an Error whose message explains what went wrong.
export async function openCapture() {
  const md = navigator.mediaDevices;
  if (!md?.getUserMedia) throw new Error('This browser (or an insecure http:// address) gives no access to cameras and microphones.');
  const attempts = [
    [{ video: true, audio: true }, null],
    [{ audio: true }, 'No camera found: joining with your microphone only.'],
    [{ video: true }, 'No microphone found: joining with your camera only.'],
  ];
  let lastError;
  for (const [constraints, note] of attempts) {
    try {
      return { stream: await md.getUserMedia(constraints), note };
    } catch (e) {
      lastError = e;
      if (e.name === 'NotAllowedError' || e.name === 'SecurityError') break;
    }
  }
  const why = lastError?.name === 'NotAllowedError'
    ? 'Camera and microphone access was refused.'
    : 'No camera or microphone is available.';
  throw new Error(why);
}

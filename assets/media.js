// Local capture with graceful fallbacks.

// Asks for camera and microphone; falls back to whichever exists. Returns
// { stream, note } or throws an Error whose message explains what went wrong.
// A refusal is not retried with fewer devices: the person said no, and asking again (Firefox
// would show a second prompt) is not ours to do; the page offers to watch instead.
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
  throw new Error(explain(lastError));
}

function explain(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera and microphone access was refused.';
    case 'NotReadableError':
    case 'AbortError':
      return 'Your camera or microphone is in use by another program, or could not be started.';
    default:
      return 'No camera or microphone is available.';
  }
}

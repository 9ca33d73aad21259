// Local capture with graceful fallbacks, and a level meter for received audio.

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

// Measures the RMS level (dBFS) of a remote audio track with Web Audio.
export class LevelMeter {
  constructor(context) {
    this.context = context;
  }

  attach(track) {
    this.source?.disconnect();
    if (!this.context || !track) return;
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 2048;
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.source.connect(this.analyser);
  }

  dbfs() {
    if (!this.analyser) return -Infinity;
    const buf = new Float32Array(this.analyser.fftSize);
    this.analyser.getFloatTimeDomainData(buf);
    const rms = Math.sqrt(buf.reduce((s, x) => s + x * x, 0) / buf.length);
    return rms > 0 ? 20 * Math.log10(rms) : -Infinity;
  }
}

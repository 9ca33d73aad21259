// window.tessera: what the page knows, for the curious (in the browser console) and for the
// end-to-end tests. Reads only; the page works the same without it.

// The last `inbound-rtp` of `kind` in a stats report.
function inbound(report, kind) {
  let found = {};
  report?.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === kind) found = s;
  });
  return found;
}

// The codec (mimeType, e.g. "video/H264") of the last RTP stream of `type` and `kind`.
function codecOf(report, type, kind) {
  let id;
  report?.forEach((s) => {
    if (s.type === type && s.kind === kind && s.codecId) id = s.codecId;
  });
  return (id && report.get(id)?.mimeType) ?? null;
}

// The transport's selected candidate pair and its two candidates.
function selectedPair(report) {
  const all = [...(report?.values() ?? [])];
  const transport = all.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  const pair = all.find((s) => s.type === 'candidate-pair'
    && (transport ? s.id === transport.selectedCandidatePairId : s.selected ?? s.nominated));
  return { pair, local: pair && report.get(pair.localCandidateId), remote: pair && report.get(pair.remoteCandidateId) };
}

// Round-trip times in ms, from both places browsers put them: the selected ICE candidate
// pair (STUN consent checks; Chromium) and remote-inbound-rtp (RTCP receiver reports from
// the server about what we send; both browsers, publishers only).
function roundTrips(report) {
  const all = [...(report?.values() ?? [])];
  const { pair } = selectedPair(report);
  const ms = (secs) => (typeof secs === 'number' ? Math.round(secs * 10000) / 10 : null);
  const remote = all.filter((s) => s.type === 'remote-inbound-rtp' && typeof s.roundTripTime === 'number');
  return {
    iceRttMs: ms(pair?.currentRoundTripTime),
    rtcpRttMs: remote.length ? ms(Math.max(...remote.map((s) => s.roundTripTime))) : null,
  };
}

export function installDiagnostics(view) {
  const pc = () => view.session()?.pc;
  window.tessera = {
    get state() { return view.session()?.state; },
    // Connection attempts since the last success (0 while connected).
    get attempt() { return view.session()?.attempt; },
    get participantId() { return view.session()?.participantId; },
    get participants() { return view.session()?.participants ?? []; },
    get recordings() { return [...(view.session()?.recordings ?? [])]; },
    get pc() { return pc(); },
    get picked() { return view.picked(); },
    get tiles() { return view.tiles(); },
    get speaker() { return view.speaker(); },
    // The server's last `videoConstraints` and what our video sender was set to: { requested,
    // applied: { scaleResolutionDownBy, maxBitrate, maxFramerate, track: { width, height } } }.
    get constraints() { return view.session()?.constraintsApplied ?? null; },
    // Decoding, reception and timing figures from getStats().
    async stats() {
      if (!pc()) return null;
      const report = await pc().getStats();
      const [video, audio] = [inbound(report, 'video'), inbound(report, 'audio')];
      const quality = document.querySelector('#composite').getVideoPlaybackQuality?.();
      const jitterMs = (s) => (typeof s.jitter === 'number' ? Math.round(s.jitter * 10000) / 10 : null);
      return {
        framesDecoded: video.framesDecoded ?? 0,
        framesDropped: video.framesDropped ?? 0,
        // Frames the <video> element itself took (headless Firefox reports 0 here).
        elementFrames: quality?.totalVideoFrames ?? 0,
        frameWidth: video.frameWidth ?? 0,
        frameHeight: video.frameHeight ?? 0,
        videoPacketsLost: video.packetsLost ?? 0,
        audioPackets: audio.packetsReceived ?? 0,
        audioPacketsLost: audio.packetsLost ?? 0,
        // What we publish video in (null until the first packet leaves) and receive it in.
        videoSentCodec: codecOf(report, 'outbound-rtp', 'video'),
        videoReceivedCodec: codecOf(report, 'inbound-rtp', 'video'),
        videoJitterMs: jitterMs(video),
        audioJitterMs: jitterMs(audio),
        ...roundTrips(report),
      };
    },
    // How media reaches the server: the selected candidate pair's state and each end's
    // candidate type (host, srflx, prflx, relay), protocol and address; relayProtocol is how
    // we reach our TURN server (udp, tcp, tls).
    async route() {
      const { pair, local, remote } = selectedPair(await pc()?.getStats());
      if (!pair) return null;
      const end = (c) => c && {
        candidateType: c.candidateType, protocol: c.protocol, address: c.address ?? c.ip, port: c.port,
        relayProtocol: c.relayProtocol, url: c.url,
      };
      return { state: pair.state, nominated: !!pair.nominated, bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived,
        local: end(local), remote: end(remote) };
    },
    // The mean level of the received audio over the next `ms`, in dBFS (from totalAudioEnergy).
    async receivedLevelDb(ms = 500) {
      const a = inbound(await pc()?.getStats(), 'audio');
      await new Promise((r) => setTimeout(r, ms));
      const b = inbound(await pc()?.getStats(), 'audio');
      const energy = (b.totalAudioEnergy ?? 0) - (a.totalAudioEnergy ?? 0);
      const secs = (b.totalSamplesDuration ?? 0) - (a.totalSamplesDuration ?? 0);
      return secs > 0 && energy > 0 ? 10 * Math.log10(energy / secs) : -200;
    },
  };
}

// The 1:1 video call: WebRTC with the "perfect negotiation" pattern (the student is polite; the
// therapist makes the first offer of every connection), signalled over the /call Socket.IO
// namespace. Also: mute, camera off, timer, connection quality from getStats, a chat that is never
// stored, ICE restart, and ending.
// State for people and tests: window.homeroomCall (and data-state on #call).
const root = document.getElementById('call');
const roomId = Number(root.dataset.room);
const role = root.dataset.role;
const polite = role === 'student';
const $ = (id) => document.getElementById(id);
const remoteVideo = $('remote-video');
const localVideo = $('local-video');
const statusLine = $('call-status');

const state = {
  role,
  pc: null,
  connectionState: 'new',
  socketConnected: false,
  peerPresent: false,
  muted: false,
  cameraOff: false,
  ended: false,
  endedReason: null,
  bytesReceived: 0,
  audioBytesReceived: 0,
  quality: 'unknown',
  iceRestarts: 0,
  iceFetches: 0, // ICE server lists received (short-lived TURN credentials: refreshed before expiry)
  chat: [],
  // The signalling steps this page took (kinds and states only, never content), newest last: what
  // a support person or a failing browser test reads to see where a call stopped.
  trace: [],
};
window.homeroomCall = state;
const TRACE_LENGTH = 200;
function trace(step, detail) {
  state.trace.push(`${Math.round(performance.now())} ${step}${detail === undefined ? '' : ` ${detail}`}`);
  if (state.trace.length > TRACE_LENGTH) state.trace.shift();
}

const OTHER = role === 'therapist' ? 'The student' : 'Your counselor';
const ENDED = {
  therapist_ended: role === 'therapist' ? 'You ended the session.' : 'Your counselor ended the session. Thank you for coming today!',
  consent_revoked: 'The session ended because a guardian changed their permission for video sessions.',
  no_consent: "The session ended because a guardian's permission for video sessions is not active now.",
  deactivated: "The session ended because the counselor's account was closed.",
  closed: 'The session time is over, so the room has closed.',
  replaced: 'This session was opened in another window or tab, so it stopped here.',
  disconnected: 'The connection to the session was lost. Reload the page to try again.',
};
const REFUSED = {
  closed: 'closed',
  no_consent: 'no_consent',
};

let localStream = null;
let iceServers = [];
let iceTransportPolicy = 'all'; // 'relay' when the deployment sends every call through TURN
let iceExpiresAt = 0; // when the TURN credentials stop working (this browser's clock)
let iceRefreshTimer = null;
let makingOffer = false;
let ignoreOffer = false;
let settingRemoteAnswer = false;
let pendingCandidates = [];
let chain = Promise.resolve();
let statsTimer = null;
let disconnectTimer = null;
let startedAt = root.dataset.startedAt ? new Date(root.dataset.startedAt) : null;
const closesAt = new Date(root.dataset.closesAt);

function setStatus(text) { statusLine.textContent = text; }
function queue(task) {
  chain = chain.then(task).catch((error) => {
    trace('error', error.name || 'error');
    setStatus(`Something went wrong with the video (${error.name || 'error'}). Trying again…`);
  });
  return chain;
}

// --- media ---------------------------------------------------------------------------------------

const media = (async () => {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return null;
  for (const constraints of [{ audio: true, video: { width: 640, height: 360 } }, { audio: true }]) {
    try {
      localStream = await navigator.mediaDevices.getUserMedia(constraints);
      localVideo.srcObject = localStream;
      localVideo.play().catch(() => {});
      return localStream;
    } catch (error) { /* try with less */ }
  }
  setStatus('We could not start your camera or microphone. The other person may not see or hear you.');
  return null;
})();

function setTracks(kind, enabled) {
  if (!localStream) return;
  for (const track of localStream.getTracks()) if (track.kind === kind) track.enabled = enabled;
}

// --- the peer connection -------------------------------------------------------------------------

function stopPeer() {
  if (state.pc) {
    trace('stop-peer');
    state.pc.onnegotiationneeded = null;
    state.pc.onsignalingstatechange = null;
    state.pc.onicegatheringstatechange = null;
    state.pc.onicecandidate = null;
    state.pc.ontrack = null;
    state.pc.onconnectionstatechange = null;
    state.pc.oniceconnectionstatechange = null;
    state.pc.close();
  }
  state.pc = null;
  state.connectionState = 'closed';
  root.dataset.connection = 'closed';
  pendingCandidates = [];
  makingOffer = false;
  ignoreOffer = false;
  settingRemoteAnswer = false;
  remoteVideo.srcObject = null;
}

// Who restarts ICE when the connection drops: the therapist (3 s after "disconnected", at once on
// "failed"); the student only if it is still down well after that (the therapist's page may be
// gone). Restarts from both pages at the same instant would be two offers crossing (see below).
function scheduleRestart(pc, therapistDelay, studentDelay) {
  clearTimeout(disconnectTimer);
  disconnectTimer = setTimeout(() => {
    if (state.pc === pc && ['disconnected', 'failed'].includes(pc.iceConnectionState)) restartIce(pc);
  }, polite ? studentDelay : therapistDelay);
}

function restartIce(pc) {
  if (state.pc !== pc || state.ended) return;
  state.iceRestarts += 1;
  setStatus('The connection is weak. Reconnecting…');
  // A restart makes new relay allocations, which need unexpired TURN credentials: ask for fresh
  // ones first (if the server cannot answer now, restart with the ones we have).
  fetchIce().finally(() => { if (state.pc === pc && !state.ended) pc.restartIce(); });
}

async function startPeer() {
  await media;
  if (state.ended) return;
  if (Date.now() > iceExpiresAt - 30000) await fetchIce();
  if (state.ended) return;
  stopPeer();
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
  trace('start-peer', localStream ? 'with-media' : 'receive-only');
  state.pc = pc;
  state.connectionState = pc.connectionState;
  pc.onnegotiationneeded = async () => {
    trace('negotiation-needed', pc.signalingState);
    // The first offer of a connection is the therapist's; the student answers it. When both pages
    // offered at once, the student's Chromium had to roll back an offer it was still making, then
    // never gathered ICE candidates again: the call did not connect (tests/e2e/test_call.py, 4 of 5
    // runs when the offers crossed within a millisecond). After the first exchange either page may
    // offer (an ICE restart), under the perfect-negotiation rules of onSignal.
    if (polite && !pc.currentRemoteDescription) {
      trace('waiting', 'for the first offer');
      return;
    }
    try {
      makingOffer = true;
      await pc.setLocalDescription();
      trace('send', pc.localDescription.type);
      if (state.pc === pc) socket.emit('signal', { description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
    } catch (error) {
      trace('error', `negotiation ${error.name}`);
      setStatus('Could not start the video. Trying again…');
    } finally {
      makingOffer = false;
    }
  };
  pc.onicecandidate = ({ candidate }) => {
    if (candidate && candidate.candidate && state.pc === pc) {
      trace('send', 'candidate');
      socket.emit('signal', { candidate: candidate.toJSON() });
    }
  };
  pc.ontrack = ({ track, streams }) => {
    const stream = streams[0] || new MediaStream([track]);
    if (remoteVideo.srcObject !== stream) {
      remoteVideo.srcObject = stream;
      remoteVideo.play().catch((error) => {
        // Browsers may refuse sound until the person clicks: offer a button (other errors are a
        // newer stream replacing this one, and need nothing).
        if (error && error.name === 'NotAllowedError') $('play-audio').hidden = false;
      });
    }
  };
  pc.onsignalingstatechange = () => trace('signaling', pc.signalingState);
  pc.onicegatheringstatechange = () => trace('gathering', pc.iceGatheringState);
  pc.onconnectionstatechange = () => {
    trace('connection', pc.connectionState);
    if (state.pc !== pc) return;
    state.connectionState = pc.connectionState;
    root.dataset.connection = pc.connectionState;
    if (pc.connectionState === 'connected') {
      if (!startedAt) startedAt = new Date();
      setStatus(`Connected. ${OTHER} is here.`);
    } else if (pc.connectionState === 'failed') {
      scheduleRestart(pc, 0, 6000);
    } else if (pc.connectionState === 'connecting') {
      setStatus('Connecting…');
    }
  };
  pc.oniceconnectionstatechange = () => {
    trace('ice', pc.iceConnectionState);
    if (state.pc !== pc) return;
    // A short blip often heals by itself: restart ICE if it has not after 3 seconds; at once when
    // ICE has failed. (connectionState "failed" schedules the same, whichever event comes first.)
    if (pc.iceConnectionState === 'disconnected') scheduleRestart(pc, 3000, 9000);
    else if (pc.iceConnectionState === 'failed') scheduleRestart(pc, 0, 6000);
    else clearTimeout(disconnectTimer);
  };
  if (localStream) {
    for (const track of localStream.getTracks()) pc.addTrack(track, localStream);
  } else {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  }
}

async function onSignal({ description, candidate }) {
  const pc = state.pc;
  trace('receive', description ? description.type : 'candidate');
  if (!pc || state.ended) { trace('dropped', pc ? 'ended' : 'no-peer'); return; }
  if (description) {
    const readyForOffer = !makingOffer && (pc.signalingState === 'stable' || settingRemoteAnswer);
    const collision = description.type === 'offer' && !readyForOffer;
    ignoreOffer = !polite && collision;
    if (ignoreOffer) { trace('ignored', 'colliding offer'); return; }
    settingRemoteAnswer = description.type === 'answer';
    await pc.setRemoteDescription(description);
    settingRemoteAnswer = false;
    // Candidates that arrived before the description wait here until it is set.
    const early = pendingCandidates;
    pendingCandidates = [];
    for (const c of early) await pc.addIceCandidate(c).catch(() => {});
    if (description.type === 'offer') {
      await pc.setLocalDescription();
      trace('send', pc.localDescription.type);
      socket.emit('signal', { description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
    }
  } else if (candidate) {
    if (!pc.remoteDescription) {
      pendingCandidates.push(candidate);
      return;
    }
    try {
      await pc.addIceCandidate(candidate);
    } catch (error) {
      if (!ignoreOffer) throw error;
    }
  }
}

// --- quality and timer -----------------------------------------------------------------------------

function describeQuality(rtt, lossRate) {
  if (rtt === null && lossRate === null) return 'unknown';
  if ((rtt ?? 0) < 0.3 && (lossRate ?? 0) < 0.02) return 'good';
  if ((rtt ?? 0) < 0.6 && (lossRate ?? 0) < 0.08) return 'fair';
  return 'poor';
}
const QUALITY_LABELS = { good: 'good', fair: 'fair', poor: 'poor', unknown: 'checking' };
let lastLoss = { lost: 0, received: 0 };

async function sampleStats() {
  const pc = state.pc;
  if (!pc || pc.connectionState === 'closed') return;
  const stats = await pc.getStats();
  let videoBytes = 0; let audioBytes = 0; let lost = 0; let received = 0; let rtt = null;
  stats.forEach((report) => {
    if (report.type === 'inbound-rtp') {
      if (report.kind === 'video') videoBytes += report.bytesReceived || 0;
      if (report.kind === 'audio') audioBytes += report.bytesReceived || 0;
      lost += report.packetsLost || 0;
      received += report.packetsReceived || 0;
    }
    if (report.type === 'candidate-pair' && report.nominated && report.state === 'succeeded'
        && typeof report.currentRoundTripTime === 'number') rtt = report.currentRoundTripTime;
  });
  state.bytesReceived = videoBytes;
  state.audioBytesReceived = audioBytes;
  const dLost = lost - lastLoss.lost; const dReceived = received - lastLoss.received;
  lastLoss = { lost, received };
  const lossRate = dLost + dReceived > 0 ? Math.max(0, dLost) / (dLost + dReceived) : null;
  state.quality = pc.connectionState === 'connected' ? describeQuality(rtt, lossRate) : 'unknown';
  $('quality').dataset.quality = state.quality;
  $('quality-label').textContent = QUALITY_LABELS[state.quality];
}

function tickTimer() {
  const now = new Date();
  if (startedAt && !state.ended) {
    const seconds = Math.max(0, Math.floor((now - startedAt) / 1000));
    $('timer').textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
  }
  if (now >= closesAt && !state.ended) {
    setStatus('The session time is over.');
    // The server ends a room whose time is over at its next event: nudge it now and then, so
    // both pages hear `session_ended` (reason "closed") even if nobody does anything.
    if (socket.connected && now - lastNudge > 15000) {
      lastNudge = now;
      socket.emit('media_state', { muted: state.muted, camera_off: state.cameraOff });
    }
  }
}
let lastNudge = 0;

// --- ending --------------------------------------------------------------------------------------

function end(reason) {
  if (state.ended) return;
  trace('end', reason);
  state.ended = true;
  state.endedReason = reason;
  clearInterval(statsTimer);
  clearTimeout(iceRefreshTimer);
  stopPeer();
  if (localStream) localStream.getTracks().forEach((t) => t.stop());
  socket.disconnect();
  state.socketConnected = false;
  root.dataset.state = 'ended';
  $('ended-message').textContent = ENDED[reason] || ENDED.closed;
  $('ended').hidden = false;
  for (const el of root.querySelectorAll('.call__controls button, #chat-form input, #chat-form button, [data-admit]')) {
    el.disabled = true;
  }
  setStatus('The session has ended.');
  $('ended').focus?.();
}

// --- chat and controls ---------------------------------------------------------------------------

function addChat(from, text) {
  state.chat.push({ from, text });
  const item = document.createElement('li');
  const who = document.createElement('strong');
  who.textContent = from === role ? 'You: ' : (from === 'therapist' ? 'Counselor: ' : 'Student: ');
  item.append(who, document.createTextNode(text));
  $('chat-log').append(item);
  item.scrollIntoView({ block: 'nearest' });
}

$('chat-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('chat-text');
  const text = input.value.trim();
  if (!text || state.ended) return;
  socket.emit('chat', { text }, (reply) => {
    if (reply && reply.ok) {
      addChat(role, text);
      input.value = '';
    } else {
      setStatus(reply && reply.message ? reply.message : 'The message was not sent.');
    }
  });
});

function sendMediaState() {
  socket.emit('media_state', { muted: state.muted, camera_off: state.cameraOff });
}

$('mute').addEventListener('click', () => {
  state.muted = !state.muted;
  setTracks('audio', !state.muted);
  $('mute').setAttribute('aria-pressed', String(state.muted));
  $('mute').textContent = state.muted ? 'Unmute' : 'Mute';
  sendMediaState();
});

$('camera').addEventListener('click', () => {
  state.cameraOff = !state.cameraOff;
  setTracks('video', !state.cameraOff);
  $('camera').setAttribute('aria-pressed', String(state.cameraOff));
  $('camera').textContent = state.cameraOff ? 'Turn camera on' : 'Turn camera off';
  sendMediaState();
});

$('play-audio').addEventListener('click', () => {
  remoteVideo.play().then(() => { $('play-audio').hidden = true; }).catch(() => {});
});

const endForm = $('end-form');
if (endForm) {
  endForm.addEventListener('submit', (event) => {
    if (!socket.connected) return; // the plain form still ends it
    event.preventDefault();
    socket.emit('end', null);
  });
}

// --- the therapist's side panel ----------------------------------------------------------------------

function shareStatus(text) { const el = $('share-status'); if (el) el.textContent = text; }

async function postForm(form) {
  const response = await fetch(form.action, {
    method: 'POST', body: new FormData(form), headers: { Accept: 'application/json' }, credentials: 'same-origin',
  });
  return response.json();
}

const linkForm = $('new-link-form');
if (linkForm) {
  linkForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const reply = await postForm(linkForm);
      if (!reply.ok) { shareStatus(reply.message); return; }
      $('join-link').value = reply.url;
      $('link-box').hidden = false;
      $('join-link').select();
      shareStatus('A new join link is ready. Earlier links no longer work.');
    } catch (error) {
      shareStatus('Could not make a link. Please try again.');
    }
  });
  $('copy-link').addEventListener('click', async () => {
    const input = $('join-link');
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      shareStatus('Link copied.');
    } catch (error) {
      shareStatus('Press Ctrl+C (or ⌘+C) to copy the selected link.');
    }
  });
}

const emailForm = $('email-link-form');
if (emailForm) {
  emailForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      shareStatus((await postForm(emailForm)).message);
    } catch (error) {
      shareStatus('Could not send the link. Please try again.');
    }
  });
}

const waitingList = $('waiting-list');

function showWaiting(grantId) {
  if (!waitingList || waitingList.querySelector(`[data-grant="${grantId}"]`)) return;
  const row = document.createElement('p');
  row.className = 'call__waiting';
  row.dataset.grant = String(grantId);
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'button button--primary button--small';
  button.dataset.admit = String(grantId);
  button.textContent = 'Admit';
  row.append(document.createTextNode('The student is waiting. '), button);
  waitingList.append(row);
}

function hideWaiting(grantId) {
  const row = waitingList && waitingList.querySelector(`[data-grant="${grantId}"]`);
  if (row) row.remove();
}

if (waitingList) {
  waitingList.addEventListener('click', (event) => {
    const button = event.target.closest('[data-admit]');
    if (!button) return;
    const grantId = Number(button.dataset.admit);
    button.disabled = true;
    socket.emit('admit', { grant_id: grantId }, (reply) => {
      if (reply && reply.ok) {
        hideWaiting(grantId);
        shareStatus('The student is coming in.');
      } else {
        button.disabled = false;
        shareStatus(reply && reply.message ? reply.message : 'Could not let the student in.');
      }
    });
  });
}

// --- the socket --------------------------------------------------------------------------------------

// eslint-disable-next-line no-undef
// WebSocket only: browsers send no Origin header on same-origin polling GETs, and the server
// refuses sockets without an allowed Origin.
// Reconnection: 1 s doubling to at most 5 s with +-50 % jitter, as games.js (bench/idle.py mirrors it).
const socket = io('/call', {
  auth: { room: roomId }, transports: ['websocket'],
  reconnection: true, reconnectionDelay: 1000, reconnectionDelayMax: 5000, randomizationFactor: 0.5,
});
state.socket = socket;

// ICE servers come from the /call namespace, only to the two participants of an open room. The
// TURN credentials are short-lived (expiresIn seconds): fetched again before they expire and
// before every ICE restart, and refused once the room has ended or consent is gone.
function scheduleIceRefresh(seconds) {
  clearTimeout(iceRefreshTimer);
  if (!state.ended) iceRefreshTimer = setTimeout(fetchIce, seconds * 1000);
}

function fetchIce() {
  return new Promise((resolve) => {
    if (state.ended || !socket.connected) { scheduleIceRefresh(15); resolve(false); return; }
    socket.timeout(10000).emit('ice_servers', null, (timedOut, reply) => {
      if (timedOut || !reply || !reply.ok) {
        if (reply && REFUSED[reply.code]) end(REFUSED[reply.code]);
        else scheduleIceRefresh(15);
        resolve(false);
        return;
      }
      trace('ice-servers', reply.iceServers.length);
      iceServers = reply.iceServers;
      iceTransportPolicy = reply.iceTransportPolicy === 'relay' ? 'relay' : 'all';
      iceExpiresAt = Date.now() + reply.expiresIn * 1000;
      state.iceFetches += 1;
      scheduleIceRefresh(Math.max(5, reply.expiresIn > 240 ? reply.expiresIn - 120 : reply.expiresIn * 0.75));
      if (state.pc && state.pc.signalingState !== 'closed') {
        try { state.pc.setConfiguration({ ...state.pc.getConfiguration(), iceServers, iceTransportPolicy }); } catch (error) { /* kept for the next peer */ }
      }
      resolve(true);
    });
  });
}

const iceReady = new Promise((resolve) => { socket.once('connect', () => fetchIce().then(resolve)); });

socket.on('connect', () => { trace('socket', 'connect'); state.socketConnected = true; root.dataset.state = 'connected'; });
socket.on('disconnect', (reason) => {
  trace('socket', `disconnect ${reason}`);
  state.socketConnected = false;
  if (state.ended) return;
  if (reason === 'io server disconnect') end(state.replaced ? 'replaced' : 'disconnected');
  else setStatus('Reconnecting…');
});
socket.on('connect_error', (error) => {
  const code = error && error.data && error.data.code;
  trace('socket', `connect-error ${code || ''}`);
  if (!code) { setStatus('Reconnecting…'); return; }
  if (code === 'not_admitted') { window.location.reload(); return; }
  end(REFUSED[code] || 'disconnected');
  $('ended-message').textContent = error.data.message || ENDED.disconnected;
});
socket.on('joined', (info) => {
  trace('joined', info.peer_present ? 'peer-present' : 'alone');
  if (info.started_at) startedAt = new Date(info.started_at);
  state.peerPresent = info.peer_present;
  if (info.peer_present) queue(() => iceReady.then(startPeer));
  else setStatus(role === 'therapist' ? 'Waiting for the student to join…' : 'Waiting for your counselor…');
});
socket.on('peer_joined', (info) => {
  trace('peer-joined', info.role);
  if (info.role === role) return;
  state.peerPresent = true;
  setStatus('Connecting…');
  queue(() => iceReady.then(startPeer));
});
socket.on('peer_left', (info) => {
  trace('peer-left', info.role);
  if (info.role === role) return;
  state.peerPresent = false;
  queue(async () => stopPeer());
  setStatus(`${OTHER} left. Waiting for them to come back…`);
});
socket.on('signal', (message) => queue(() => onSignal(message)));
socket.on('chat', ({ from, text }) => addChat(from, text));
socket.on('media_state', ({ muted, camera_off: cameraOff }) => {
  const parts = [];
  if (muted) parts.push('microphone is off');
  if (cameraOff) parts.push('camera is off');
  $('peer-media').textContent = parts.length ? `${OTHER}'s ${parts.join(' and ')}.` : '';
});
socket.on('student_waiting', ({ grant_id: grantId }) => showWaiting(grantId));
socket.on('student_left_waiting', ({ grant_id: grantId }) => hideWaiting(grantId));
socket.on('replaced', () => { state.replaced = true; });
socket.on('session_ended', ({ reason }) => end(reason));
socket.on('error', (error) => {
  // A room that closed or lost its consent while we were in it: stop the call here too, even if
  // the 'session_ended' message was missed (consent can lapse at its end date with no event).
  if (error && REFUSED[error.code]) { end(REFUSED[error.code]); return; }
  if (error && error.code !== 'rate_limited') setStatus(error.message || 'That did not work.');
});

statsTimer = setInterval(() => { tickTimer(); sampleStats().catch(() => {}); }, 1000);

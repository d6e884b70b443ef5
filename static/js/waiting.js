// The student's waiting room: a camera and microphone preview, and a socket on /waiting that
// hears when the counselor lets the student in (then the room page opens).
const root = document.getElementById('waiting');
const roomId = Number(root.dataset.room);
const statusLine = document.getElementById('waiting-status');
const previewStatus = document.getElementById('preview-status');
const video = document.getElementById('preview');
const level = document.getElementById('mic-level');

const state = { admitted: false, ended: false, endedReason: null, socketConnected: false, previewing: false };
window.homeroomWaiting = state;

let stream = null;
let audioContext = null;

const ENDED = {
  therapist_ended: 'The session has ended. You can close this page now.',
  consent_revoked: 'The session ended because a guardian changed their permission for video sessions. You can close this page now.',
  deactivated: "The session ended because the counselor's account was closed. You can close this page now.",
  closed: 'The session time is over. You can close this page now.',
  replaced: 'Your counselor let you in from another device or window, so this page stopped. You can close it.',
};
const REFUSED = {
  closed: 'This session is not open right now. You can close this page.',
  no_consent: "This video session can't happen right now, because a guardian's permission for video sessions is not active.",
  no_assent: 'Please tell us first whether you are ready.',
};

function stopPreview() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  if (audioContext) audioContext.close().catch(() => {});
  audioContext = null;
  state.previewing = false;
}

function showMeter(source) {
  const AudioCtx = window.AudioContext || window.webkitAudioContext;
  if (!AudioCtx || !source.getAudioTracks().length) return;
  audioContext = new AudioCtx();
  const analyser = audioContext.createAnalyser();
  analyser.fftSize = 512;
  audioContext.createMediaStreamSource(source).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const tick = () => {
    if (!audioContext) return;
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    level.style.transform = `scaleX(${Math.min(1, peak / 64).toFixed(2)})`;
    requestAnimationFrame(tick);
  };
  tick();
}

async function startPreview() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    previewStatus.textContent = 'This browser cannot use a camera here. You can still talk by chat.';
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    video.srcObject = stream;
    state.previewing = true;
    previewStatus.textContent = 'Your camera and microphone are working. You look great!';
    showMeter(stream);
  } catch (error) {
    previewStatus.textContent = 'We could not start your camera or microphone. Ask a grown-up to allow them in the browser. '
      + 'You can still join.';
  }
}

function ended(reason) {
  state.ended = true;
  state.endedReason = reason;
  stopPreview();
  statusLine.textContent = ENDED[reason] || ENDED.closed;
  root.dataset.state = 'ended';
  socket.disconnect();
}

// eslint-disable-next-line no-undef
// WebSocket only: browsers send no Origin header on same-origin polling GETs, and the server
// refuses sockets without an allowed Origin.
// Reconnection: 1 s doubling to at most 5 s with +-50 % jitter, as games.js (bench/idle.py mirrors it).
const socket = io('/waiting', {
  auth: { room: roomId }, transports: ['websocket'],
  reconnection: true, reconnectionDelay: 1000, reconnectionDelayMax: 5000, randomizationFactor: 0.5,
});
socket.on('connect', () => { state.socketConnected = true; });
socket.on('disconnect', (reason) => {
  state.socketConnected = false;
  if (reason === 'io server disconnect' && !state.ended && !state.admitted) ended('closed');
});
socket.on('connect_error', (error) => {
  const code = error && error.data && error.data.code;
  if (code) {
    statusLine.textContent = REFUSED[code] || (error.data.message || 'We could not connect you.');
    socket.disconnect();
    if (code === 'no_assent') window.location.reload();
  } else {
    statusLine.textContent = 'Trying to reconnect…';
  }
});
socket.on('admitted', () => {
  state.admitted = true;
  statusLine.textContent = 'Your counselor let you in. Starting your session…';
  stopPreview();
  socket.disconnect();
  window.location.assign(root.dataset.roomUrl);
});
socket.on('session_ended', ({ reason }) => ended(reason));

startPreview();

// "Check my device and network": camera preview, microphone level, and TURN reachability.
// Every result is written as plain words into an element with data-state = running | ok | fail |
// blocked, so people (and the browser tests) read the same thing.
const root = document.getElementById("preflight");

const GATHER_TIMEOUT_MS = 8000;
const RELAY_CONNECT_TIMEOUT_MS = 15000;
const QUIET_MIC_TIMEOUT_MS = 10000;

function show(el, state, text) {
  if (!el) return;
  el.dataset.state = state;
  el.textContent = text;
}

function explainMediaError(error, device) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return ["blocked", `The browser is not allowed to use the ${device}. Choose “Allow” when it asks, or use the ` +
        `camera symbol in the address bar to allow it, then try again.`];
    case "NotFoundError":
    case "OverconstrainedError":
      return ["fail", `We could not find a ${device}. Check that one is plugged in and turned on.`];
    case "NotReadableError":
    case "AbortError":
      return ["fail", `The ${device} seems to be in use by another app (for example another video call). ` +
        `Close that app and try again.`];
    default:
      return ["fail", `The ${device} could not be started. Try another browser, or restart this device.`];
  }
}

function mediaAvailable(result, device) {
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) return true;
  show(result, "fail", `This browser cannot use a ${device} here. Use a recent Chrome, Edge, Firefox or Safari.`);
  return false;
}

// --- camera -------------------------------------------------------------------------------------

function setUpCamera() {
  const button = document.getElementById("camera-start");
  const video = document.getElementById("camera-preview");
  const result = document.getElementById("camera-result");
  let stream = null;
  button.addEventListener("click", async () => {
    if (stream) {
      stream.getTracks().forEach((t) => t.stop());
      stream = null;
      video.srcObject = null;
      video.hidden = true;
      button.textContent = "Check my camera";
      show(result, "idle", "Camera turned off.");
      return;
    }
    if (!mediaAvailable(result, "camera")) return;
    show(result, "running", "Starting the camera…");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (error) {
      show(result, ...explainMediaError(error, "camera"));
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    button.textContent = "Turn the camera off";
    const ready = () => {
      if (video.videoWidth > 0) {
        show(result, "ok", "Your camera works. You should see yourself above.");
      } else {
        show(result, "fail", "The camera started but shows no picture. Check nothing covers it.");
      }
    };
    if (video.readyState >= 2) ready();
    else video.addEventListener("loadeddata", ready, { once: true });
  });
}

// --- microphone ---------------------------------------------------------------------------------

function setUpMicrophone() {
  const button = document.getElementById("mic-start");
  const meterWrap = document.getElementById("mic-meter-wrap");
  const meter = document.getElementById("mic-level");
  const result = document.getElementById("mic-result");
  let running = null;
  const stop = () => {
    clearInterval(running.timer);
    clearTimeout(running.quiet);
    running.stream.getTracks().forEach((t) => t.stop());
    running.context.close();
    running = null;
    meterWrap.hidden = true;
    button.textContent = "Check my microphone";
  };
  button.addEventListener("click", async () => {
    if (running) {
      stop();
      show(result, "idle", "Microphone turned off.");
      return;
    }
    if (!mediaAvailable(result, "microphone")) return;
    show(result, "running", "Starting the microphone…");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (error) {
      show(result, ...explainMediaError(error, "microphone"));
      return;
    }
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    let heard = false;
    running = { stream, context, timer: null, quiet: null };
    meterWrap.hidden = false;
    button.textContent = "Turn the microphone off";
    show(result, "running", "Listening… say something.");
    running.timer = setInterval(() => {
      analyser.getByteTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += ((s - 128) / 128) ** 2;
      const level = Math.min(100, Math.round(Math.sqrt(sum / samples.length) * 300));
      meter.value = level;
      meter.textContent = String(level);
      if (!heard && level >= 3) {
        heard = true;
        show(result, "ok", "Your microphone works: we can hear sound.");
      }
    }, 100);
    running.quiet = setTimeout(() => {
      if (!heard) {
        show(result, "fail", "We cannot hear anything. Check the microphone is not muted, and that the right " +
          "microphone is chosen in your device’s sound settings.");
      }
    }, QUIET_MIC_TIMEOUT_MS);
  });
}

// --- network ------------------------------------------------------------------------------------

function withTimeout(promise, ms, onTimeout) {
  let timer;
  return Promise.race([
    promise,
    new Promise((resolve) => { timer = setTimeout(() => resolve(onTimeout()), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// Ask one TURN URL for a relay candidate. Relay-only, so no host or reflexive candidate counts.
function gatherRelay(iceServers) {
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" });
  const errors = [];
  const found = new Promise((resolve) => {
    pc.addEventListener("icecandidateerror", (e) => errors.push(e.errorCode));
    pc.addEventListener("icecandidate", (e) => {
      if (e.candidate && e.candidate.type === "relay") {
        resolve({ ok: true, protocol: e.candidate.relayProtocol || null });
      } else if (!e.candidate) {
        resolve({ ok: false, errors });
      }
    });
  });
  pc.createDataChannel("preflight");
  const run = pc.createOffer().then((offer) => pc.setLocalDescription(offer)).then(() => found);
  return withTimeout(run, GATHER_TIMEOUT_MS, () => ({ ok: false, errors, timedOut: true }))
    .catch(() => ({ ok: false, errors }))
    .finally(() => pc.close());
}

async function selectedPair(pc) {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) {
    stats.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && (s.nominated || s.selected)) pair = s;
    });
  }
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {
    local: local && local.candidateType,
    remote: remote && remote.candidateType,
    protocol: local && (local.relayProtocol || local.protocol),
  };
}

// Two peers in this page, both forced through the relay, connect and exchange a message: the
// same path a video call takes when a school network blocks direct connections.
function relayLoopback(iceServers) {
  const config = { iceServers, iceTransportPolicy: "relay" };
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  // Candidates that arrive before the other side has its remote description wait in a queue.
  const pipe = (from, to) => {
    const queue = [];
    from.addEventListener("icecandidate", (e) => {
      if (!e.candidate) return;
      if (to.remoteDescription) to.addIceCandidate(e.candidate).catch(() => {});
      else queue.push(e.candidate);
    });
    return () => queue.splice(0).forEach((c) => to.addIceCandidate(c).catch(() => {}));
  };
  const flushToB = pipe(a, b);
  const flushToA = pipe(b, a);
  b.addEventListener("datachannel", (e) => {
    e.channel.addEventListener("message", (m) => { if (m.data === "ping") e.channel.send("pong"); });
  });
  const channel = a.createDataChannel("preflight");
  const echoed = new Promise((resolve) => {
    channel.addEventListener("open", () => channel.send("ping"));
    channel.addEventListener("message", (m) => { if (m.data === "pong") resolve(); });
  });
  const run = (async () => {
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    flushToB();
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    flushToA();
    await echoed;
    return { ok: true, pair: await selectedPair(a) };
  })();
  return withTimeout(run, RELAY_CONNECT_TIMEOUT_MS, () => ({ ok: false, timedOut: true }))
    .catch(() => ({ ok: false }))
    .finally(() => { a.close(); b.close(); });
}

const TRANSPORT_WORDS = { udp: "UDP", tcp: "TCP", tls: "TLS on a secure port" };

function setUpNetwork() {
  const button = document.getElementById("net-start");
  if (!button) return;
  const summary = document.getElementById("net-summary");
  const relayResult = document.getElementById("relay-result");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await checkNetwork(summary, relayResult);
    } finally {
      button.disabled = false;
    }
  });
}

async function checkNetwork(summary, relayResult) {
  const rows = [...document.querySelectorAll("#net-results [data-check]")];
  rows.forEach((row) => show(row, "running", "Checking…"));
  show(relayResult, "running", "Waiting for the checks above…");
  show(summary, "running", "Checking your network. This takes up to 20 seconds.");
  if (typeof RTCPeerConnection === "undefined") {
    rows.forEach((row) => show(row, "fail", "Not possible in this browser."));
    show(relayResult, "fail", "Not possible in this browser.");
    show(summary, "fail", "This browser cannot make video calls. Use a recent Chrome, Edge, Firefox or Safari.");
    return;
  }
  let plan;
  try {
    const response = await fetch(root.dataset.iceUrl, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": root.dataset.csrf },
    });
    if (response.status === 429) {
      throw new Error("Too many checks were run from this network in the last hour. Please try again later.");
    }
    if (!response.ok) throw new Error("We could not reach Homeroom. Reload the page and try again.");
    plan = await response.json();
  } catch (error) {
    const text = error instanceof TypeError ? "We could not reach Homeroom. Check the internet connection." : error.message;
    rows.forEach((row) => show(row, "idle", "Not checked."));
    show(relayResult, "idle", "Not checked.");
    show(summary, "fail", text);
    return;
  }
  const byUrl = new Map(plan.checks.map((c) => [c.url, c]));
  const outcomes = await Promise.all(rows.map(async (row) => {
    const check = byUrl.get(row.dataset.url);
    if (!check) {
      show(row, "idle", "Not checked.");
      return null;
    }
    const outcome = await gatherRelay(check.iceServers);
    if (outcome.ok) {
      show(row, "ok", "Works.");
    } else if (outcome.errors && outcome.errors.includes(401)) {
      show(row, "fail", "The relay refused our test pass. Reload the page and try again.");
    } else {
      show(row, "fail", "Blocked or unreachable from this network.");
    }
    row.dataset.protocol = outcome.protocol || "";
    return { check, ok: outcome.ok };
  }));
  const working = outcomes.filter((o) => o && o.ok);
  if (!working.length) {
    show(relayResult, "fail", "Not possible: the relay cannot be reached.");
    show(summary, "fail", "This network blocks our relay server. Video may still work on some networks, but if it " +
      "does not, please show the “For school IT” part of this page to your school’s IT team.");
    return;
  }
  const relay = await relayLoopback(working.flatMap((o) => o.check.iceServers));
  if (relay.ok && relay.pair) {
    relayResult.dataset.localType = relay.pair.local || "";
    relayResult.dataset.remoteType = relay.pair.remote || "";
  }
  if (relay.ok) show(relayResult, "ok", "Connected through the relay.");
  else show(relayResult, "fail", "The relay answered, but a test connection through it failed.");
  const words = working.map((o) => TRANSPORT_WORDS[o.check.transport]).join(", ");
  if (relay.ok && working.length === outcomes.filter(Boolean).length) {
    show(summary, "ok", `All good: this network reaches our relay server (${words}). Video sessions should work here.`);
  } else if (relay.ok) {
    show(summary, "ok", `Video sessions should work here: our relay server can be reached over ${words}. ` +
      "Some other ways are blocked; that is fine, but school IT may want to look at the list below.");
  } else {
    show(summary, "fail", "The relay server can be reached but a test connection through it failed. Please try " +
      "again; if it fails again, show the “For school IT” part of this page to your school’s IT team.");
  }
}

if (root) {
  setUpCamera();
  setUpMicrophone();
  setUpNetwork();
}

// Optional drawn signature on the consent form. Pointer events cover mouse, pen and touch;
// the drawing is written to the hidden input as a PNG data URL when the form is submitted.
const canvas = document.getElementById("signature-pad");
const input = document.getElementById("drawn_signature");
const clear = document.getElementById("signature-clear");
const form = document.getElementById("consent-form");

if (canvas && input && form) {
  const ctx = canvas.getContext("2d");
  let drawing = false;
  let drawn = false;
  ctx.lineWidth = 3;
  ctx.lineCap = "round";
  ctx.strokeStyle = "#1b1f24";

  const point = (event) => {
    const rect = canvas.getBoundingClientRect();
    return [
      ((event.clientX - rect.left) / rect.width) * canvas.width,
      ((event.clientY - rect.top) / rect.height) * canvas.height,
    ];
  };

  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    ctx.beginPath();
    ctx.moveTo(...point(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    ctx.lineTo(...point(event));
    ctx.stroke();
    drawn = true;
  });
  const stop = () => { drawing = false; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  clear?.addEventListener("click", () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    drawn = false;
    input.value = "";
  });

  form.addEventListener("submit", () => {
    input.value = drawn ? canvas.toDataURL("image/png") : "";
  });
}

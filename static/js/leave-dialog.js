// The student's Leave button asks first, in a modal <dialog>: the browser keeps focus inside it,
// Escape or "Stay" closes it and focus returns to Leave. Leaving is a plain link away from the
// page, so the call ends for this page as a reload would (the counselor sees that the student left).
const button = document.getElementById('leave');
const dialog = document.getElementById('leave-dialog');
if (button && dialog) {
  button.addEventListener('click', () => { if (!dialog.open) dialog.showModal(); });
  dialog.addEventListener('close', () => button.focus());
}

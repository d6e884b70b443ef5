// Booking and moving a session: show only the fields that apply. Without JavaScript every
// field stays visible and the server ignores the ones that do not apply.
const form = document.getElementById("booking-form");

if (form) {
  const checked = (name) => form.querySelector(`input[name="${name}"]:checked`)?.value;
  const show = (selector, visible) => {
    form.querySelectorAll(selector).forEach((el) => { el.hidden = !visible; });
  };

  // Only the class periods of the chosen student's school.
  const student = form.querySelector("select[name='student']");
  const period = form.querySelector("select[name='period']");
  const filterPeriods = () => {
    if (!student || !period) return;
    const option = student.selectedOptions[0];
    const school = option ? option.dataset.school : undefined;
    period.querySelectorAll("optgroup").forEach((group) => {
      const match = !school || [...group.children].some((o) => o.dataset.school === school);
      group.hidden = !match;
      group.disabled = !match;
    });
    const chosen = period.selectedOptions[0];
    if (chosen && chosen.parentElement.tagName === "OPTGROUP" && chosen.parentElement.disabled) {
      period.value = "";
    }
  };

  const update = () => {
    const by = checked("start_by") || "time";
    show("[data-when='time']", by === "time");
    show("[data-when='period']", by === "period");
    const repeat = checked("repeat");
    if (repeat !== undefined) {
      show("[data-repeat-only]", repeat !== "none");
      const ends = checked("ends") || "count";
      show("[data-ends='count']", ends === "count");
      show("[data-ends='until']", ends === "until");
    }
    filterPeriods();
  };

  form.addEventListener("change", update);
  update();
  // After a refused booking, bring the reasons into view and focus for screen readers.
  document.getElementById("conflicts")?.focus();
}

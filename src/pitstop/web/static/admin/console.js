// The console works without this script; with it, times read in the browser's own zone and
// the schedule form starts in that zone.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const format = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", year: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
for (const el of document.querySelectorAll("time[data-local]")) {
  const when = new Date(el.getAttribute("datetime"));
  if (!Number.isNaN(when.getTime())) {
    el.title = el.textContent;
    el.textContent = format.format(when);
  }
}
const zoneField = document.querySelector("input[data-browser-zone]");
const startField = document.querySelector("#starts_local");
if (zoneField && startField && zone && zoneField.value === "UTC" && !document.querySelector("#schedule-error")) {
  // The server suggested a start in UTC: show that same instant in the browser's zone.
  const utc = new Date(`${startField.value}:00Z`);
  if (!Number.isNaN(utc.getTime())) {
    const local = new Date(utc.getTime() - utc.getTimezoneOffset() * 60000);
    startField.value = local.toISOString().slice(0, 16);
    zoneField.value = zone;
  }
}

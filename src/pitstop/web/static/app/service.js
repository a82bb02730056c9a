// Service appointments: the owner's appointments (time in this device's zone, center, car,
// problem, status), booking a free slot for a car with a description of the problem, moving
// it to another free slot, cancelling it after a confirmation; and "service due, book now" on
// the card of a car that reports it (distance or time since its last service, a tyre low),
// which opens the booking with that car and its reasons filled in.
//
// Routes: #service (the list), #service/book?vin=VIN (book, that car chosen), #service/move/ID.
// During a window that takes down `service`, this screen says so with the window's reason and
// expected end, keeps the appointments it last saw (marked with their age), and pauses booking,
// moving and cancelling; the rest of the app keeps working.

import { ApiError, api } from "./api.js";
import * as cars from "./cars.js";
import * as maint from "./maintenance.js";
import { el, expectedBack, updateCountdowns } from "./dom.js";
import { age, clock, reasonWords } from "./words.js";

const $ = (id) => document.getElementById(id);
const KEEP = "pitstop.service.appointments";
const KEEP_DUE = "pitstop.service.due";
const KEEP_CENTER = "pitstop.service.center";
const tuning = { due: 300, ...(() => { try { return JSON.parse(localStorage.getItem("pitstop.app.tuning") || "{}"); } catch { return {}; } })() };

let appointments = null; // { at: ms, items: [...] } as last seen
let stale = null; // why the list may be old: "maintenance" | "offline" | text
let vehicles = null;
let centers = null;
let due = new Map(); // vin -> { due, reasons, problem }
let form = null; // what the open form is doing: { mode: "book" | "move", appointment, autoDay, autoProblem }
let slotsAsked = 0;
let busy = false;
let dueTimer = null;
let tick = null;
let focusNext = null; // the appointment to focus once the list is shown again

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function keep(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage full */
  }
}

// --- words ------------------------------------------------------------------------------------

const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const myZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

// "Today", "Tomorrow", "Thu 4 Jan" in this device's zone.
function dayWords(date, now = new Date()) {
  if (sameDay(date, now)) return "Today";
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  if (sameDay(date, tomorrow)) return "Tomorrow";
  return dayFmt.format(date);
}

// "Thu 4 Jan, 09:00–10:00" in this device's zone ("today, ..." inside a sentence).
function timeWords(a, { inSentence = false } = {}) {
  const start = new Date(a.starts_at);
  const day = dayWords(start);
  return `${inSentence && /^To/.test(day) ? day.toLowerCase() : day}, ${clock(start)}–${clock(new Date(a.ends_at))}`;
}

// "09:00" as the center's clock shows it, from an ISO time with the center's offset.
const centerClock = (localIso) => String(localIso || "").slice(11, 16);

// "2026-01-04" in `zone`: the center's local day.
function localDay(date, zone) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
  } catch {
    return date.toISOString().slice(0, 10);
  }
}

// "Thu 4 Jan" for a local day "2026-01-04".
function isoDayWords(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d, 12)));
}

function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n, 12)).toISOString().slice(0, 10);
}

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_SHORT = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };

// "Mon–Fri 08:00–12:00, 13:00–17:00; Sat 09:00–13:00"
function hoursWords(hours) {
  const runs = [];
  for (const d of DAYS) {
    const spans = (hours?.[d] || []).map((s) => s.replace("-", "–")).join(", ");
    const last = runs[runs.length - 1];
    if (spans && last && last.spans === spans && DAYS.indexOf(last.to) === DAYS.indexOf(d) - 1) last.to = d;
    else if (spans) runs.push({ from: d, to: d, spans });
  }
  if (!runs.length) return "no opening hours";
  return runs.map((r) => `${DAY_SHORT[r.from]}${r.to !== r.from ? `–${DAY_SHORT[r.to]}` : ""} ${r.spans}`).join("; ");
}

const STATUS = { booked: "Booked", cancelled: "Cancelled" };

function carName(vin, fallback = "") {
  const v = (vehicles || read("pitstop.vehicles") || []).find((x) => x.vin === vin);
  return v?.display_name || fallback || vin;
}

// A refusal or failure, as a person reads it.
function problemWords(e, prefix) {
  if (e instanceof ApiError && e.status === 409 && e.error === "slot_full") {
    return `${prefix}: someone took the last place at that time a moment ago. The free times below are up to date again: pick another one.`;
  }
  if (e instanceof ApiError && e.status === 422 && e.body?.messages) {
    return `${prefix}: ${Object.values(e.body.messages).flat().join(" ")}`;
  }
  return cars.failure(e, prefix);
}

// --- loading ----------------------------------------------------------------------------------

async function loadVehicles() {
  try {
    vehicles = await api("/api/1/vehicles", { component: "vehicle_data" });
  } catch (e) {
    vehicles = vehicles || read("pitstop.vehicles");
    if (!vehicles) throw e;
  }
  return vehicles;
}

async function loadCenters() {
  centers = await api("/api/1/service/centers", { component: "service" });
  return centers;
}

// The owner's appointments: those still ahead, and recently cancelled ones still ahead.
export async function load() {
  appointments ||= read(KEEP);
  try {
    const items = await api("/api/1/service/appointments?all=1", { component: "service" });
    appointments = { at: Date.now(), items };
    stale = null;
    keep(KEEP, appointments);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    stale = e.maintenance ? "maintenance" : e.status === 0 ? "offline" : e.description;
  }
  renderList();
}

// Which cars are due for service (the server's alert rules), for the cards' suggestion.
export async function loadDue() {
  clearTimeout(dueTimer);
  if (!due.size) for (const d of read(KEEP_DUE) || []) due.set(d.vin, d);
  try {
    const list = await api("/api/1/service/due", { component: "service" });
    due = new Map(list.map((d) => [d.vin, d]));
    keep(KEEP_DUE, list);
  } catch {
    /* keep what we knew: the suggestion is not urgent */
  }
  renderDue();
  dueTimer = setTimeout(() => loadDue(), tuning.due * (0.8 + Math.random() * 0.4) * 1000);
}

export function reload() {
  load().catch(() => {});
  loadDue();
  if (form && !$("booking").hidden) loadSlots();
}

// --- the cards' suggestion ----------------------------------------------------------------------

function renderDue() {
  for (const slot of document.querySelectorAll(".car[data-vin] .service-due")) {
    const vin = slot.closest(".car").dataset.vin;
    const d = due.get(vin);
    if (!d?.due) {
      slot.hidden = true;
      slot.replaceChildren();
      continue;
    }
    const key = JSON.stringify(d.reasons);
    if (slot.dataset.shown === key) continue;
    slot.dataset.shown = key;
    const button = el("button", { type: "button", class: "primary", text: "Book service now" });
    button.addEventListener("click", () => {
      location.hash = `#service/book?vin=${encodeURIComponent(vin)}`;
    });
    const fs = el(
      "fieldset",
      { "data-component": "service", class: "due" },
      el("legend", { text: "Service due" }),
      el("ul", { class: "due-reasons" }, ...d.reasons.map((r) => el("li", { text: r }))),
      button,
      el("p", { class: "paused-note", hidden: true }),
    );
    slot.replaceChildren(fs);
    slot.hidden = false;
  }
  cars.pausedChanged(); // the card disables it, with the reason, during a service window
}

// --- the list -----------------------------------------------------------------------------------

function ahead(a, now = Date.now()) {
  return Date.parse(a.ends_at) > now;
}

function renderList() {
  const list = $("appointments");
  if (!list) return;
  const items = (appointments?.items || []).filter((a) => ahead(a));
  items.sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at) || a.id - b.id);
  const focused = document.activeElement?.closest?.("#appointments li")?.dataset.id;
  list.replaceChildren();
  if (!appointments) {
    list.append(el("li", { class: "muted empty", text: stale ? "Your appointments could not be loaded yet." : "Loading your appointments…" }));
  } else if (!items.length) {
    list.append(el("li", { class: "muted empty", text: "No appointments ahead. Book one when a car needs service." }));
  }
  for (const a of items) list.append(item(a));
  renderAge();
  paused();
  if (focused) list.querySelector(`li[data-id="${focused}"]`)?.focus();
}

function renderAge() {
  const ageEl = $("appointments-age");
  if (stale && appointments) {
    const old = (Date.now() - appointments.at) / 1000;
    const why = stale === "maintenance" ? "Pitstop is under maintenance"
      : stale === "offline" ? "Pitstop cannot be reached from this device" : stale;
    ageEl.textContent = `As last seen (${age(old)}, from ${clock(new Date(appointments.at))}): ${why}.`;
    ageEl.hidden = false;
  } else {
    ageEl.hidden = true;
  }
}

function item(a) {
  const start = new Date(a.starts_at);
  const begun = start <= new Date();
  const status = begun && a.status === "booked" ? "In progress" : STATUS[a.status] || a.status;
  const titleId = `appt-${a.id}-title`;
  const li = el("li", { class: "appointment", "data-id": String(a.id), "data-status": a.status, tabindex: "-1", "aria-labelledby": titleId });
  const head = el(
    "div",
    { class: "row between" },
    el("h4", { id: titleId }, el("time", { datetime: a.starts_at, text: timeWords(a) })),
    el("span", { class: "pill status", "data-status": a.status, text: status }),
  );
  const where = el("p", { class: "where" }, el("strong", { text: carName(a.vin, a.vehicle_name) }), ` at ${a.center_name || "the service center"}`);
  li.append(head, where);
  if (a.local_start && centerClock(a.local_start) !== clock(start)) {
    li.append(el("p", { class: "muted", text: `${centerClock(a.local_start)} at the center (${a.timezone} time).` }));
  }
  li.append(el("p", { class: "problem" }, el("span", { class: "muted", text: "Problem: " }), a.description));
  if (a.status === "booked" && !begun) {
    const label = `${carName(a.vin, a.vehicle_name)}, ${timeWords(a, { inSentence: true })}`;
    const move = el("button", { type: "button", class: "small", "data-do": "move", "data-change": true, "aria-label": `Reschedule ${label}`, text: "Reschedule" });
    const cancel = el("button", { type: "button", class: "small", "data-do": "cancel", "data-change": true, "aria-label": `Cancel appointment: ${label}`, text: "Cancel appointment" });
    move.addEventListener("click", () => {
      location.hash = `#service/move/${a.id}`;
    });
    cancel.addEventListener("click", () => confirmCancel(li, a));
    li.append(el("div", { class: "row actions" }, move, cancel));
  }
  return li;
}

function confirmCancel(li, a) {
  li.querySelector(".confirm")?.remove();
  const actions = li.querySelector(".actions");
  const q = `appt-${a.id}-q`;
  const yes = el("button", { type: "button", class: "danger", "data-change": true, text: "Yes, cancel it" });
  const no = el("button", { type: "button", text: "Keep it" });
  const box = el(
    "div",
    { class: "confirm", role: "group", "aria-labelledby": q },
    el("p", { id: q, text: `Cancel the appointment for ${timeWords(a, { inSentence: true })}? The time goes to someone else.` }),
    el("div", { class: "row" }, yes, no),
  );
  actions.hidden = true;
  li.append(box);
  no.addEventListener("click", () => {
    box.remove();
    actions.hidden = false;
    actions.querySelector("[data-do=cancel]").focus();
  });
  yes.addEventListener("click", () => cancel(a, yes));
  no.focus();
}

function say(id, text, kind = "info") {
  const r = $(id);
  r.textContent = text;
  r.dataset.kind = kind;
}

async function cancel(a, button) {
  const w = maint.blocking("service", true);
  if (w) return say("service-result", maint.blockedReason(w), "refused");
  busy = true;
  button.setAttribute("aria-busy", "true");
  paused();
  const what = `${carName(a.vin, a.vehicle_name)} at ${a.center_name}, ${timeWords(a, { inSentence: true })}`;
  say("service-result", `Cancelling the appointment (${what})…`, "pending");
  try {
    const done = await api(`/api/1/service/appointments/${a.id}/cancel`, { method: "POST", component: "service" });
    say("service-result", `Cancelled: ${what}. The time is free again for others.`, "done");
    replace(done);
  } catch (e) {
    say("service-result", problemWords(e, "Not cancelled"), "refused");
    await load().catch(() => {});
  } finally {
    busy = false;
    renderList();
    $("appointments").querySelector(`li[data-id="${a.id}"]`)?.focus();
  }
  return undefined;
}

function replace(a) {
  const items = (appointments?.items || []).filter((x) => x.id !== a.id);
  appointments = { at: Date.now(), items: [...items, a] };
  keep(KEEP, appointments);
  renderList();
}

// --- the form: book, or move ----------------------------------------------------------------------

function center() {
  return (centers || []).find((c) => String(c.id) === $("booking-center").value) || null;
}

async function openForm(mode, { vin = null, id = null } = {}) {
  $("service-list-part").hidden = true;
  $("booking").hidden = false;
  say("booking-result", "");
  const f = $("booking");
  const moving = mode === "move";
  $("booking-title").textContent = moving ? "Reschedule service" : "Book service";
  $("booking-submit").textContent = moving ? "Move to this time" : "Book this time";
  form = { mode, appointment: null, autoDay: true, autoProblem: form?.autoProblem ?? null };
  $("booking-slots-state").textContent = "Loading…";
  f.querySelector(".slot-list").replaceChildren();
  try {
    // Read again at every opening (a center may have been added); the last list if that fails.
    await Promise.all([loadVehicles(), loadCenters().catch((e) => {
      if (!centers) throw e;
      return centers;
    })]);
  } catch (e) {
    $("booking-slots-state").textContent = problemWords(e, "Booking cannot start");
    paused();
    return;
  }
  if (moving) {
    const a = (appointments?.items || []).find((x) => String(x.id) === String(id));
    if (!a || a.status !== "booked") {
      say("service-result", "That appointment cannot be moved any more: here are your appointments as they are now.", "refused");
      location.hash = "#service";
      return;
    }
    form.appointment = a;
    vin = a.vin;
  }
  const carSel = $("booking-car");
  carSel.replaceChildren(...vehicles.map((v) => el("option", { value: v.vin, text: v.display_name || v.vin })));
  if (vin && vehicles.some((v) => v.vin === vin)) carSel.value = vin;
  const active = centers.filter((c) => c.active !== false || (moving && c.id === form.appointment.center_id));
  const centerSel = $("booking-center");
  centerSel.replaceChildren(...active.map((c) => el("option", { value: String(c.id), text: c.name })));
  const last = moving ? String(form.appointment.center_id) : localStorage.getItem(KEEP_CENTER);
  if (last && active.some((c) => String(c.id) === last)) centerSel.value = last;
  carSel.disabled = moving;
  centerSel.disabled = moving;
  const problem = $("booking-problem");
  problem.readOnly = moving;
  if (moving) {
    problem.value = form.appointment.description;
    $("booking-problem-hint").textContent = "To change the description, cancel and book again.";
    $("booking-moving").textContent = `Now: ${timeWords(form.appointment)}. Choose a new time below; your appointment keeps its time until the new one is confirmed.`;
    $("booking-moving").hidden = false;
  } else {
    $("booking-moving").hidden = true;
    if (!problem.value.trim() || problem.value === form.autoProblem) problem.value = "";
    fillProblem();
  }
  if (!vehicles.length || !active.length) {
    $("booking-slots-state").textContent = !vehicles.length ? "No cars are linked to this account: there is nothing to book for." : "No service center takes bookings at the moment.";
    paused();
    return;
  }
  centerChanged();
  paused();
  (moving ? $("booking-day") : carSel).focus();
}

// The problem, filled in from what the car reports when it is due and nothing was typed yet.
function fillProblem() {
  if (form?.mode !== "book") return;
  const problem = $("booking-problem");
  const d = due.get($("booking-car").value);
  const typed = problem.value.trim() && problem.value !== form.autoProblem;
  if (typed) return;
  problem.value = d?.due ? d.problem : "";
  form.autoProblem = problem.value || null;
  $("booking-problem-hint").textContent = d?.due
    ? "Filled in from what the car reports: add anything else the center should know."
    : "Describe the problem, so the center can prepare.";
}

function centerChanged() {
  const c = center();
  if (!c) return;
  const info = [c.address, `Open ${hoursWords(c.hours)} (${c.timezone} time)`, `${c.slot_minutes} min slots`].filter(Boolean);
  $("booking-center-info").textContent = `${info.join(". ")}.`;
  const today = localDay(new Date(), c.timezone);
  const day = $("booking-day");
  day.min = today;
  day.max = addDays(today, 180);
  if (form.autoDay || !day.value || day.value < today) day.value = today;
  loadSlots();
}

async function loadSlots({ keepChoice = false } = {}) {
  const c = center();
  if (!c || !form) return;
  const vin = $("booking-car").value;
  const day = $("booking-day").value;
  if (!day) {
    $("booking-slots-state").textContent = "Choose a day.";
    return;
  }
  const chosen = keepChoice ? $("booking").querySelector("input[name=slot]:checked")?.value : null;
  const asked = ++slotsAsked;
  const list = $("booking").querySelector(".slot-list");
  $("booking-slots-legend").textContent = `Free times on ${isoDayWords(day)}`;
  $("booking-slots-state").textContent = `Looking for free times at ${c.name}…`;
  $("booking").setAttribute("aria-busy", "true");
  let found;
  try {
    const q = new URLSearchParams({ vin, from: day, days: "14" });
    found = await api(`/api/1/service/centers/${c.id}/slots?${q}`, { component: "service" });
  } catch (e) {
    if (asked !== slotsAsked || !form) return;
    $("booking").removeAttribute("aria-busy");
    list.replaceChildren();
    $("booking-slots-state").textContent = problemWords(e, "The free times could not be loaded");
    paused();
    return;
  }
  if (asked !== slotsAsked || !form) return;
  $("booking").removeAttribute("aria-busy");
  let shown = found.slots.filter((s) => s.local_start.slice(0, 10) === day);
  if (!shown.length && form.autoDay && found.slots.length) {
    // Opening the form: go to the first day with a free time.
    const first = found.slots[0].local_start.slice(0, 10);
    $("booking-day").value = first;
    $("booking-slots-legend").textContent = `Free times on ${isoDayWords(first)}`;
    shown = found.slots.filter((s) => s.local_start.slice(0, 10) === first);
  }
  list.replaceChildren();
  for (const s of shown) {
    const start = new Date(s.starts_at);
    const mine = clock(start);
    const there = centerClock(s.local_start);
    const id = `slot-${Date.parse(s.starts_at)}`;
    const input = el("input", { type: "radio", name: "slot", id, value: s.starts_at });
    if (chosen === s.starts_at) input.checked = true;
    const label = el("label", { for: id, class: "slot" }, input, el("span", { text: mine }));
    if (there !== mine) label.append(el("span", { class: "there", text: ` (${there} there)` }));
    if (s.free === 1 && s.capacity > 1) label.append(el("span", { class: "few", text: " · last place" }));
    list.append(label);
  }
  const state = $("booking-slots-state");
  if (shown.length) {
    state.textContent = `${shown.length} free ${shown.length === 1 ? "time" : "times"} at ${c.name}${otherClock(c) ? "; times are yours, the center's in brackets" : ""}.`;
  } else {
    const next = found.slots[0];
    state.textContent = next
      ? `No free time on ${isoDayWords(day)}. The next one is ${dayWords(new Date(next.starts_at)).replace(/^To/, "to")} at ${clock(new Date(next.starts_at))}.`
      : `No free time at ${c.name} in the 14 days from ${isoDayWords(day)}: try a later day or another center.`;
    if (next) {
      const go = el("button", { type: "button", class: "small", text: `Show ${isoDayWords(next.local_start.slice(0, 10))}` });
      go.addEventListener("click", () => {
        $("booking-day").value = next.local_start.slice(0, 10);
        form.autoDay = false;
        loadSlots();
      });
      list.append(go);
    }
  }
  paused();
}

// Does the center keep another clock than this device?
function otherClock(c) {
  const now = new Date();
  const fmt = (zone) => new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit" }).format(now);
  try {
    return fmt(c.timezone) !== fmt(myZone);
  } catch {
    return false;
  }
}

async function submit() {
  const w = maint.blocking("service", true);
  if (w) return say("booking-result", maint.blockedReason(w), "refused");
  const c = center();
  const slot = $("booking").querySelector("input[name=slot]:checked");
  const problem = $("booking-problem").value.trim();
  if (!slot) {
    say("booking-result", "Choose one of the free times first.", "refused");
    $("booking").querySelector("input[name=slot]")?.focus();
    return undefined;
  }
  if (form.mode === "book" && !problem) {
    say("booking-result", "Describe the problem, so the center can prepare.", "refused");
    $("booking-problem").focus();
    return undefined;
  }
  const at = new Date(slot.value);
  const when_ = `${dayWords(at).replace(/^To/, "to")} at ${clock(at)}`;
  const vin = $("booking-car").value;
  const button = $("booking-submit");
  busy = true;
  button.setAttribute("aria-busy", "true");
  paused();
  try {
    if (form.mode === "move") {
      const before = form.appointment;
      say("booking-result", `Moving your appointment to ${when_}…`, "pending");
      const moved = await api(`/api/1/service/appointments/${before.id}/reschedule`, {
        method: "POST", body: { starts_at: slot.value }, component: "service",
      });
      replace(moved);
      done(`Moved: ${carName(moved.vin, moved.vehicle_name)} at ${moved.center_name} is now ${timeWords(moved, { inSentence: true })} (was ${timeWords(before, { inSentence: true })}).`, moved.id);
    } else {
      say("booking-result", `Booking ${when_} at ${c.name}…`, "pending");
      const made = await api("/api/1/service/appointments", {
        method: "POST", body: { vin, center_id: c.id, starts_at: slot.value, description: problem }, component: "service",
      });
      localStorage.setItem(KEEP_CENTER, String(c.id));
      replace(made);
      $("booking-problem").value = "";
      form.autoProblem = null;
      done(`Booked: ${carName(made.vin, made.vehicle_name)} at ${made.center_name}, ${timeWords(made, { inSentence: true })}.`, made.id);
    }
  } catch (e) {
    const prefix = form.mode === "move" ? "Not moved" : "Not booked";
    let text = problemWords(e, prefix);
    if (form.mode === "move" && e instanceof ApiError && e.status === 409) text += ` Your appointment keeps its time: ${timeWords(form.appointment, { inSentence: true })}.`;
    say("booking-result", text, "refused");
    if (e instanceof ApiError && e.status === 409) await loadSlots();
  } finally {
    busy = false;
    button.removeAttribute("aria-busy");
    paused();
  }
  return undefined;
}

function done(text, id) {
  say("service-result", text, "done");
  focusNext = id;
  location.hash = "#service";
}

// --- maintenance --------------------------------------------------------------------------------

// During a window that takes `service`: the notice on this screen, and every change paused
// with the reason beside it. The cards' suggestion is paused by the card itself.
function paused() {
  const w = maint.blocking("service", true);
  const note = w ? maint.blockedReason(w) : "";
  const describe = (b, id) => {
    if (w) b.setAttribute("aria-describedby", id);
    else b.removeAttribute("aria-describedby");
  };
  for (const b of document.querySelectorAll("#view-service button[data-change]")) {
    b.disabled = !!w || busy;
    describe(b, "service-paused-note");
  }
  const submitButton = $("booking-submit");
  submitButton.disabled = !!w || busy || !form;
  describe(submitButton, "booking-paused-note");
  for (const n of [$("service-paused-note"), $("booking-paused-note")]) {
    n.hidden = !w;
    n.textContent = note;
  }
  renderNotice();
}

export function pausedChanged() {
  paused();
}

function renderNotice() {
  const box = $("service-paused");
  if (!box) return;
  const ws = maint.windows().filter((w) => w.components.includes("service"));
  clearInterval(tick);
  tick = null;
  box.hidden = !ws.length;
  box.replaceChildren();
  if (!ws.length) return;
  const full = ws.some((w) => w.mode === "full");
  box.append(el("h3", { id: "service-paused-title", text: full ? "Service appointments are paused" : "Service appointments are read-only" }));
  for (const w of ws) {
    box.append(el("p", {}, el("strong", { text: w.title }), ` — server maintenance for ${reasonWords(w.reason)}.`));
    if (w.expectedEnd) {
      box.append(expectedBack(w.expectedEnd));
    }
  }
  box.append(el("p", {
    text: full
      ? "Booking, moving and cancelling wait until it is over; your appointments stay as they are."
      : "You can see your appointments; booking, moving and cancelling wait until it is over.",
  }));
  // What else works is in the app's own notice above; here, only whether the cars do.
  const down = new Set(ws.flatMap((w) => w.components));
  const carsWork = ["vehicle_data", "vehicle_commands"].every((c) => !down.has(c));
  if (carsWork) box.append(el("p", { class: "works", text: "Your cars and their controls keep working." }));
  box.append(el("p", {}, el("a", { href: ws.find((w) => w.statusUrl)?.statusUrl || "/status", text: "Status page" })));
  const update = () => updateCountdowns(box);
  update();
  tick = setInterval(update, 1000);
}

// --- routes -------------------------------------------------------------------------------------

// `hash` without "#": "service", "service/book?vin=...", "service/move/7".
export function route(hash) {
  const [path, query = ""] = hash.split("?");
  const parts = path.split("/");
  const params = new URLSearchParams(query);
  if (parts[1] === "book") {
    openForm("book", { vin: params.get("vin") });
  } else if (parts[1] === "move" && parts[2]) {
    const open = () => openForm("move", { id: parts[2] });
    if (appointments) open();
    else load().then(open, open);
  } else {
    $("booking").hidden = true;
    $("service-list-part").hidden = false;
    form = null;
    renderList();
    load().catch(() => {}); // look again: another device may have changed them
    if (focusNext != null) {
      $("appointments").querySelector(`li[data-id="${focusNext}"]`)?.focus();
      focusNext = null;
    }
  }
}

export function setup() {
  appointments = read(KEEP);
  for (const d of read(KEEP_DUE) || []) due.set(d.vin, d);
  $("service-book").addEventListener("click", () => {
    say("service-result", "");
    location.hash = "#service/book";
  });
  $("booking-back").addEventListener("click", () => {
    location.hash = "#service";
  });
  $("booking").addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  $("booking-car").addEventListener("change", () => {
    fillProblem();
    loadSlots();
  });
  $("booking-center").addEventListener("change", () => {
    localStorage.setItem(KEEP_CENTER, $("booking-center").value);
    centerChanged();
  });
  $("booking-day").addEventListener("change", () => {
    if (!form) return;
    form.autoDay = false;
    loadSlots();
  });
  $("booking").addEventListener("change", (e) => {
    if (e.target.name === "slot") say("booking-result", "");
  });
  setInterval(() => {
    if (stale && appointments && !$("view-service").hidden) renderAge();
  }, 15_000);
}

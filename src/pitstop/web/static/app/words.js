// Times, waits, reasons and refusals as a person reads them, in the reader's own zone.

export const REASONS = {
  bug_fixes: "bug fixes",
  performance: "performance improvements",
  new_features: "new features",
  security_update: "a security update",
  release_preparation: "release preparation",
  hardware_upgrade: "a hardware upgrade",
  configuration: "configuration changes",
  other: "other work",
};

export const COMPONENTS = {
  vehicle_data: "reading your cars' data",
  vehicle_commands: "commands to your cars",
  charging: "charging commands and schedules",
  service: "service appointments",
  accounts: "signing in and account changes",
  notifications: "notifications",
  web: "the web app",
  vehicle_link: "your cars' connection to Pitstop",
};
export const WHOLE_SERVICE = Object.keys(COMPONENTS).filter((c) => c !== "vehicle_link");

// What a car says when it refuses a command, as a sentence.
const REFUSALS = {
  cable_not_connected: "the charge cable is not connected",
  cable_connected: "the charge cable is still connected",
  charge_port_closed: "the charge port is closed",
  is_charging: "it is charging already",
  not_charging: "it is not charging",
  complete: "the battery is already at its charge limit",
  no_power: "the charger gives no power",
  already_set: "that is the setting already",
  vehicle_asleep: "it is asleep (wake it first)",
  already_driving: "it is being driven",
  low_battery: "the battery is too low",
  invalid_days_of_week: "those days of the week make no sense to it",
  not_found: "it has no such schedule",
  unknown_command: "it does not know that command",
  user_present: "someone is in the car",
};

export function refusal(reason) {
  if (!reason) return "it gave no reason";
  return REFUSALS[reason] || String(reason).replaceAll("_", " ");
}

export function reasonWords(reason) {
  return REASONS[reason] || String(reason || "other work").replaceAll("_", " ");
}

export function listWords(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

// "14:30", "14:30 tomorrow", "Tue 3 Dec, 14:30" in the reader's zone.
export function when(date, now = new Date()) {
  const t = timeFmt.format(date);
  if (sameDay(date, now)) return `${t} today`;
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  if (sameDay(date, tomorrow)) return `${t} tomorrow`;
  return `${dayFmt.format(date)}, ${t}`;
}

export function clock(date) {
  return timeFmt.format(date);
}

// "45 s", "12 min", "1 h 30 min", "2 days 3 h"
export function duration(seconds) {
  seconds = Math.max(0, seconds);
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.ceil(seconds / 60 - 1e-9);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} days ${hours % 24} h` : `${days} days`;
}

// A live countdown: "12 min 05 s", "1 h 02 min".
export function countdown(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (h) return `${h} h ${pad(m)} min`;
  return `${m} min ${pad(s)} s`;
}

// "just now", "40 s old", "12 min old", "3 h old"
export function age(seconds) {
  if (seconds < 10) return "just now";
  return `${duration(seconds)} old`;
}

export function minutesToTime(minutes) {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

export function timeToMinutes(text) {
  const [h, m] = String(text).split(":").map(Number);
  if (!Number.isFinite(h) || !Number.isFinite(m)) return null;
  return h * 60 + m;
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
export const DAY_NAMES = DAYS;

export function daysWords(mask) {
  if (typeof mask !== "number") return String(mask);
  if (mask === 127) return "every day";
  if (mask === 62) return "weekdays";
  if (mask === 65) return "weekends";
  return DAYS.filter((_, i) => mask & (1 << i)).map((d) => d.slice(0, 3)).join(", ");
}

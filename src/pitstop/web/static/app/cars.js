// A card per car: what it reports (battery, range, charging, place, temperatures, locks) and
// what the owner can do (lock, climate, charging, wake, charge schedules). Every action shows
// its progress and its result, a refusal in the car's own words; the last-known state stays
// on screen with its age whenever Pitstop or the car cannot answer.

import { ApiError, api } from "./api.js";
import * as maint from "./maintenance.js";
import { draw, remember, track } from "./map.js";
import {
  DAY_NAMES, age, clock, daysWords, minutesToTime, refusal, timeToMinutes,
} from "./words.js";

const SECTIONS = "charge_state;climate_state;drive_state;location_data;vehicle_state;charge_schedule_data;gui_settings";
const KM_PER_MI = 1.609344;
const cards = new Map(); // vin -> Card
let pollTimer = null;
const tuning = { data: 15, ...(() => { try { return JSON.parse(localStorage.getItem("pitstop.app.tuning") || "{}"); } catch { return {}; } })() };

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function stored(vin) {
  try {
    return JSON.parse(localStorage.getItem(`pitstop.car.${vin}`) || "null");
  } catch {
    return null;
  }
}

function keep(vin, data) {
  try {
    localStorage.setItem(`pitstop.car.${vin}`, JSON.stringify(data));
  } catch {
    /* storage full */
  }
}

// When the data was true: the newest of its sections' timestamps (milliseconds).
function dataTime(d) {
  const ts = ["charge_state", "climate_state", "drive_state", "vehicle_state"]
    .map((s) => d?.[s]?.timestamp)
    .filter(Number.isFinite);
  return ts.length ? Math.max(...ts) : null;
}

class Card {
  constructor(vehicle, host) {
    this.vehicle = vehicle;
    this.vin = vehicle.vin;
    this.data = stored(this.vin);
    this.problem = null; // why the shown data may be old
    this.busy = false;
    const id = `car-${this.vin}`;
    this.root = document.createElement("article");
    this.root.className = "car";
    this.root.id = id;
    this.root.dataset.vin = this.vin;
    this.root.setAttribute("aria-labelledby", `${id}-name`);
    this.root.innerHTML = `
      <header class="car-head">
        <h3 id="${id}-name">${esc(vehicle.display_name || vehicle.vin)}</h3>
        <span class="pill state"></span>
      </header>
      <p class="age" aria-live="off"></p>
      <div class="battery">
        <div class="gauge" role="meter" aria-label="Battery" aria-valuemin="0" aria-valuemax="100">
          <div class="fill"></div><div class="limit" title="Charge limit"></div>
        </div>
        <p><span class="soc big"></span> <span class="range"></span></p>
        <p class="charging"></p>
      </div>
      <dl class="facts">
        <div><dt>Doors</dt><dd class="locks"></dd></div>
        <div><dt>Inside</dt><dd class="inside"></dd></div>
        <div><dt>Outside</dt><dd class="outside"></dd></div>
        <div><dt>Climate</dt><dd class="climate"></dd></div>
      </dl>
      <div class="service-due" hidden></div>
      <figure class="map">
        <div class="map-box" role="img"></div>
        <figcaption class="coords"></figcaption>
      </figure>
      <p class="result" role="status" aria-live="polite"></p>
      <div class="controls">
        <fieldset data-component="vehicle_commands">
          <legend>Doors</legend>
          <button type="button" data-act="lock">Lock</button>
          <button type="button" data-act="unlock">Unlock</button>
          <p class="paused-note" hidden></p>
        </fieldset>
        <fieldset data-component="vehicle_commands">
          <legend>Climate</legend>
          <button type="button" data-act="climate_on">Climate on</button>
          <button type="button" data-act="climate_off">Climate off</button>
          <div class="inline">
            <label for="${id}-temp">Temperature (°C)</label>
            <input id="${id}-temp" class="temp" type="number" min="15" max="28" step="0.5" inputmode="decimal">
            <button type="button" data-act="set_temp">Set temperature</button>
          </div>
          <p class="paused-note" hidden></p>
        </fieldset>
        <fieldset data-component="charging">
          <legend>Charging</legend>
          <button type="button" data-act="charge_start">Start charging</button>
          <button type="button" data-act="charge_stop">Stop charging</button>
          <div class="inline">
            <label for="${id}-limit">Charge limit <span class="limit-out"></span></label>
            <input id="${id}-limit" class="limit-in" type="range" min="50" max="100" step="1">
            <button type="button" data-act="set_limit">Set limit</button>
          </div>
          <p class="paused-note" hidden></p>
        </fieldset>
        <fieldset data-component="charging" class="schedules">
          <legend>Charge schedules</legend>
          <ul class="schedule-list"></ul>
          <details class="schedule-form">
            <summary>Add a charge schedule</summary>
            <form>
              <input type="hidden" name="id">
              <label for="${id}-s-name">Name</label>
              <input id="${id}-s-name" name="name" maxlength="40" placeholder="e.g. Night tariff">
              <label for="${id}-s-days">Days</label>
              <select id="${id}-s-days" name="days">
                <option value="All">Every day</option>
                <option value="Weekdays">Weekdays</option>
                <option value="Weekends">Weekends</option>
                ${DAY_NAMES.map((d) => `<option value="${d}">${d}</option>`).join("")}
              </select>
              <label for="${id}-s-start">Start at</label>
              <input id="${id}-s-start" name="start" type="time" required value="23:00">
              <label class="check"><input type="checkbox" name="end_enabled"> Stop at a set time</label>
              <label for="${id}-s-end">Stop at</label>
              <input id="${id}-s-end" name="end" type="time" value="06:00">
              <label class="check"><input type="checkbox" name="enabled" checked> Enabled</label>
              <div class="row">
                <button type="submit" class="primary">Save schedule</button>
                <button type="button" class="cancel-edit" hidden>Cancel editing</button>
              </div>
            </form>
          </details>
          <p class="paused-note" hidden></p>
        </fieldset>
        <fieldset data-component="vehicle_commands" class="wake-group">
          <legend>Connection</legend>
          <button type="button" data-act="wake">Wake up</button>
          <p class="paused-note" hidden></p>
        </fieldset>
      </div>`;
    host.append(this.root);
    this.$ = (sel) => this.root.querySelector(sel);
    this.$(".limit-in").addEventListener("input", (e) => {
      this.$(".limit-out").textContent = `${e.target.value} %`;
    });
    this.root.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-act]");
      if (b) this.act(b.dataset.act, b);
    });
    const form = this.$(".schedule-form form");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.saveSchedule(form);
    });
    this.$(".cancel-edit").addEventListener("click", () => this.resetForm());
    this.$(".schedule-list").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-schedule]");
      if (!b) return;
      const s = (this.data?.charge_schedule_data?.charge_schedules || []).find((x) => String(x.id) === b.dataset.schedule);
      if (!s) return;
      if (b.dataset.do === "edit") this.editSchedule(s);
      else this.removeSchedule(s, b);
    });
    this.render();
    this.paused();
  }

  // --- reading ---------------------------------------------------------------------------

  async refresh() {
    try {
      const d = await api(`/api/1/vehicles/${this.vin}/vehicle_data?endpoints=${SECTIONS}`, { component: "vehicle_data" });
      this.data = d;
      this.problem = null;
      this.vehicle.state = d.state;
      keep(this.vin, d);
      const ds = d.drive_state || {};
      remember(this.vin, ds.latitude, ds.longitude, ds.timestamp);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 408) {
        this.vehicle.state = e.body?.state || "asleep";
        this.problem = this.vehicle.state === "offline" ? "offline" : "asleep";
      } else if (e.maintenance) {
        this.problem = "maintenance";
      } else {
        this.problem = e.status === 0 ? "offline_app" : "error";
        this.problemText = e.description;
      }
    }
    this.render();
  }

  render() {
    const d = this.data;
    const state = this.vehicle.state || "unknown";
    const pill = this.$(".state");
    const word = { online: "Online", asleep: "Asleep", offline: "Offline" }[state] || state;
    const lastKnown = this.problem === "maintenance" || this.problem === "offline_app" || this.problem === "error";
    pill.textContent = lastKnown ? `${word} (last known)` : word;
    pill.dataset.state = state;
    this.$(".wake-group button").classList.toggle("primary", state === "asleep");
    this.renderAge();
    if (!d) {
      this.$(".soc").textContent = "—";
      return;
    }
    const cs = d.charge_state || {};
    const cl = d.climate_state || {};
    const ds = d.drive_state || {};
    const vs = d.vehicle_state || {};
    const soc = cs.battery_level ?? cs.usable_battery_level;
    const gauge = this.$(".gauge");
    gauge.setAttribute("aria-valuenow", String(soc ?? 0));
    gauge.setAttribute("aria-valuetext", `${soc} percent, charge limit ${cs.charge_limit_soc} percent`);
    gauge.dataset.level = soc < 20 ? "low" : "ok";
    this.$(".fill").style.width = `${soc ?? 0}%`;
    this.$(".gauge .limit").style.left = `${cs.charge_limit_soc ?? 100}%`;
    this.$(".soc").textContent = `${soc} %`;
    const mi = cs.battery_range ?? 0;
    this.$(".range").textContent = `${Math.round(mi * KM_PER_MI)} km · ${Math.round(mi)} mi`;
    this.$(".charging").textContent = chargingWords(cs);
    this.$(".locks").textContent = vs.locked ? "Locked" : "Unlocked";
    this.$(".locks").dataset.locked = String(!!vs.locked);
    const unit = d.gui_settings?.gui_temperature_units === "F" ? "F" : "C";
    const t = (c) => (c == null ? "—" : unit === "F" ? `${Math.round(c * 1.8 + 32)} °F` : `${Number(c).toFixed(1)} °C`);
    this.$(".inside").textContent = t(cl.inside_temp);
    this.$(".outside").textContent = t(cl.outside_temp);
    this.$(".climate").textContent = cl.is_climate_on ? `On, set to ${t(cl.driver_temp_setting)}` : `Off (set to ${t(cl.driver_temp_setting)})`;
    const temp = this.$(".temp");
    if (document.activeElement !== temp && cl.driver_temp_setting != null) temp.value = cl.driver_temp_setting;
    const limit = this.$(".limit-in");
    if (document.activeElement !== limit && cs.charge_limit_soc != null) {
      limit.value = cs.charge_limit_soc;
      this.$(".limit-out").textContent = `${cs.charge_limit_soc} %`;
    }
    const points = track(this.vin);
    if (Number.isFinite(ds.latitude)) {
      const pts = points.length ? points : [[ds.latitude, ds.longitude, ds.timestamp]];
      draw(this.$(".map-box"), pts, ds.heading);
      const where = `${ds.latitude.toFixed(5)}, ${ds.longitude.toFixed(5)}`;
      this.$(".coords").textContent = `Position ${where}${ds.speed ? `, driving at ${Math.round(ds.speed * KM_PER_MI)} km/h` : ", parked"}`;
      this.$(".map-box").setAttribute("aria-label", `Map of the car at ${where}, heading ${ds.heading ?? 0}°, with its last ${pts.length} known positions`);
    } else {
      this.$(".map-box").replaceChildren();
      this.$(".map-box").setAttribute("aria-label", "No position known");
      this.$(".coords").textContent = "Position unknown";
    }
    this.renderSchedules();
  }

  renderAge() {
    const el = this.$(".age");
    const at = dataTime(this.data);
    const old = at ? (Date.now() - at) / 1000 : null;
    const words = old == null ? "" : `${age(old)}, from ${clock(new Date(at))}`;
    let text;
    let stale = true;
    switch (this.problem) {
      case "maintenance":
        text = `Last known state (${words}): Pitstop is under maintenance.`;
        break;
      case "asleep":
        text = `Asleep. Last known state (${words}). Wake it to see it now.`;
        break;
      case "offline":
        text = `Offline. Last known state (${words}).`;
        break;
      case "offline_app":
        text = `Last known state (${words}): Pitstop cannot be reached from this device.`;
        break;
      case "error":
        text = `Last known state (${words}): ${this.problemText || "Pitstop did not answer."}`;
        break;
      default:
        stale = old != null && old > 120;
        text = at ? `Updated ${words}` : "Waiting for the car…";
    }
    if (!this.data && this.problem) text = text.replace(/Last known state \(\)[:.]?/, "Nothing known yet.");
    el.textContent = text;
    this.root.classList.toggle("stale", stale && !!this.data);
  }

  renderSchedules() {
    const list = this.$(".schedule-list");
    const schedules = this.data?.charge_schedule_data?.charge_schedules || [];
    list.replaceChildren();
    if (!schedules.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No charge schedules.";
      list.append(li);
      return;
    }
    for (const s of schedules) {
      const li = document.createElement("li");
      li.dataset.schedule = String(s.id);
      const name = s.name || `Schedule ${s.id}`;
      const times = [s.start_enabled ? `from ${minutesToTime(s.start_time)}` : "", s.end_enabled ? `until ${minutesToTime(s.end_time)}` : ""].filter(Boolean).join(" ");
      li.innerHTML = `<span><strong>${esc(name)}</strong>: ${esc(daysWords(s.days_of_week))} ${esc(times)}${s.enabled ? "" : " (off)"}</span>
        <span class="row"><button type="button" class="small" data-do="edit" data-schedule="${s.id}" aria-label="Edit ${esc(name)}">Edit</button>
        <button type="button" class="small" data-do="remove" data-schedule="${s.id}" aria-label="Remove ${esc(name)}">Remove</button></span>`;
      list.append(li);
    }
    this.paused();
  }

  // Controls that cannot work during a window are disabled, with the reason beside them.
  paused() {
    for (const fs of this.root.querySelectorAll("fieldset[data-component]")) {
      const w = maint.blocking(fs.dataset.component, true);
      const note = fs.querySelector(".paused-note");
      fs.disabled = !!w || this.busy;
      note.hidden = !w;
      note.textContent = maint.blockedReason(w);
      if (w) {
        note.id ||= `${this.root.id}-${Math.random().toString(36).slice(2, 8)}`;
        fs.setAttribute("aria-describedby", note.id);
      } else fs.removeAttribute("aria-describedby");
    }
  }

  // --- acting ----------------------------------------------------------------------------

  say(text, kind = "info") {
    const r = this.$(".result");
    r.textContent = text;
    r.dataset.kind = kind;
  }

  async act(what, button) {
    const cs = this.data?.charge_state || {};
    const actions = {
      lock: ["door_lock", {}, "Locking…", "Locked.", (d) => d.vehicle_state?.locked === true],
      unlock: ["door_unlock", {}, "Unlocking…", "Unlocked.", (d) => d.vehicle_state?.locked === false],
      climate_on: ["auto_conditioning_start", {}, "Turning climate on…", "Climate is on.", (d) => d.climate_state?.is_climate_on === true],
      climate_off: ["auto_conditioning_stop", {}, "Turning climate off…", "Climate is off.", (d) => d.climate_state?.is_climate_on === false],
      charge_start: ["charge_start", {}, "Starting to charge…", "Charging started.", (d) => ["Charging", "Starting"].includes(d.charge_state?.charging_state)],
      charge_stop: ["charge_stop", {}, "Stopping charging…", "Charging stopped.", (d) => !["Charging", "Starting"].includes(d.charge_state?.charging_state)],
    };
    if (what === "wake") return this.wake(button);
    let spec = actions[what];
    if (what === "set_temp") {
      const v = Number(this.$(".temp").value);
      if (!(v >= 15 && v <= 28)) return this.say("Choose a temperature from 15 to 28 °C.", "refused");
      spec = ["set_temps", { driver_temp: v, passenger_temp: v }, `Setting ${v} °C…`, `Temperature set to ${v} °C.`, (d) => d.climate_state?.driver_temp_setting === v];
    }
    if (what === "set_limit") {
      const v = Number(this.$(".limit-in").value);
      spec = ["set_charge_limit", { percent: v }, `Setting the charge limit to ${v} %…`, `Charge limit set to ${v} %.`, (d) => d.charge_state?.charge_limit_soc === v];
    }
    if (!spec) return undefined;
    void cs;
    const [name, params, pending, done, expect] = spec;
    return this.command(name, params, { pending, done, expect, button, component: name.startsWith("charge") || name === "set_charge_limit" ? "charging" : "vehicle_commands" });
  }

  async command(name, params, { pending, done, expect, button, component }) {
    const w = maint.blocking(component, true);
    if (w) return this.say(maint.blockedReason(w), "refused");
    this.busy = true;
    button?.setAttribute("aria-busy", "true");
    this.root.setAttribute("aria-busy", "true");
    this.paused();
    this.say(pending, "pending");
    try {
      const r = await api(`/api/1/vehicles/${this.vin}/command/${name}`, { method: "POST", body: params, component });
      if (r.result === false) {
        this.say(`The car refused: ${refusal(r.reason)}.`, "refused");
        return false;
      }
      this.say(`${done} Checking the car…`, "pending");
      const seen = await this.until(expect);
      this.say(seen ? done : `${done} The car has not shown it yet.`, "done");
      return true;
    } catch (e) {
      this.say(failure(e, "Not sent"), "refused");
      return false;
    } finally {
      this.busy = false;
      button?.removeAttribute("aria-busy");
      this.root.removeAttribute("aria-busy");
      this.paused();
      button?.focus?.();
    }
  }

  // Read the car again until `expect(data)` holds (a few tries, about 4 s in all).
  async until(expect, tries = 8) {
    for (let i = 0; i < tries; i++) {
      await this.refresh();
      if (!expect || (this.data && !this.problem && expect(this.data))) return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  }

  async wake(button) {
    const w = maint.blocking("vehicle_commands", true);
    if (w) return this.say(maint.blockedReason(w), "refused");
    this.busy = true;
    this.paused();
    this.say("Waking the car…", "pending");
    try {
      await api(`/api/1/vehicles/${this.vin}/wake_up`, { method: "POST", component: "vehicle_commands" });
      for (let i = 0; i < 20; i++) {
        const v = await api(`/api/1/vehicles/${this.vin}`, { component: "vehicle_data" });
        this.vehicle.state = v.state;
        if (v.state === "online") break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      await this.refresh();
      this.say(this.vehicle.state === "online" ? "The car is awake." : "The car did not wake up yet. Try again in a minute.", this.vehicle.state === "online" ? "done" : "refused");
    } catch (e) {
      this.say(failure(e, "Could not wake the car"), "refused");
    } finally {
      this.busy = false;
      this.paused();
      button?.focus?.();
    }
  }

  // --- charge schedules --------------------------------------------------------------------

  editSchedule(s) {
    const form = this.$(".schedule-form form");
    const det = this.$(".schedule-form");
    det.open = true;
    det.querySelector("summary").textContent = `Edit ${s.name || `schedule ${s.id}`}`;
    form.elements.id.value = s.id;
    form.elements.name.value = s.name || "";
    const mask = s.days_of_week;
    const single = DAY_NAMES.find((_, i) => mask === 1 << i);
    form.elements.days.value = mask === 127 ? "All" : mask === 62 ? "Weekdays" : mask === 65 ? "Weekends" : single || "All";
    form.elements.start.value = minutesToTime(s.start_time);
    form.elements.end_enabled.checked = !!s.end_enabled;
    form.elements.end.value = minutesToTime(s.end_time);
    form.elements.enabled.checked = !!s.enabled;
    this.$(".cancel-edit").hidden = false;
    form.elements.name.focus();
  }

  resetForm() {
    const form = this.$(".schedule-form form");
    form.reset();
    form.elements.id.value = "";
    this.$(".schedule-form summary").textContent = "Add a charge schedule";
    this.$(".cancel-edit").hidden = true;
  }

  async saveSchedule(form) {
    const f = form.elements;
    const start = timeToMinutes(f.start.value);
    if (start == null) return this.say("Choose a start time.", "refused");
    const params = {
      name: f.name.value.trim() || undefined,
      days_of_week: f.days.value,
      enabled: f.enabled.checked,
      start_enabled: true,
      start_time: start,
      end_enabled: f.end_enabled.checked,
      end_time: f.end_enabled.checked ? timeToMinutes(f.end.value) : undefined,
      one_time: false,
    };
    const editing = f.id.value !== "";
    if (editing) params.id = Number(f.id.value);
    const label = params.name || "the schedule";
    const count = (this.data?.charge_schedule_data?.charge_schedules || []).length;
    const ok = await this.command("add_charge_schedule", params, {
      pending: editing ? `Saving ${label}…` : `Adding ${label}…`,
      done: editing ? `Saved ${label}.` : `Added ${label}.`,
      expect: (d) => {
        const list = d.charge_schedule_data?.charge_schedules || [];
        return editing ? list.some((s) => s.id === params.id && s.start_time === start) : list.length > count;
      },
      button: form.querySelector("button[type=submit]"),
      component: "charging",
    });
    if (ok) {
      this.resetForm();
      this.$(".schedule-form").open = false;
    }
  }

  async removeSchedule(s, button) {
    const label = s.name || `schedule ${s.id}`;
    await this.command("remove_charge_schedule", { id: s.id }, {
      pending: `Removing ${label}…`,
      done: `Removed ${label}.`,
      expect: (d) => !(d.charge_schedule_data?.charge_schedules || []).some((x) => x.id === s.id),
      button: null,
      component: "charging",
    });
    void button;
  }
}

function chargingWords(cs) {
  const state = cs.charging_state;
  const limit = cs.charge_limit_soc != null ? `limit ${cs.charge_limit_soc} %` : "";
  switch (state) {
    case "Charging":
      return `Charging at ${cs.charger_power} kW, full in ${cs.minutes_to_full_charge} min (${limit})`;
    case "Starting":
      return `Starting to charge (${limit})`;
    case "Complete":
      return `Charging complete (${limit})`;
    case "Stopped":
      return `Plugged in, not charging (${limit})`;
    case "NoPower":
      return `Plugged in, the charger gives no power (${limit})`;
    case "Disconnected":
      return `Not plugged in (${limit})`;
    default:
      return state ? `${state} (${limit})` : "";
  }
}

export function failure(e, prefix) {
  if (!(e instanceof ApiError)) return `${prefix}: ${e.message}`;
  if (e.maintenance) {
    const m = e.body?.maintenance;
    const end = m?.expected_end ? ` Pitstop expects to be back at ${clock(new Date(m.expected_end))}.` : "";
    return `${prefix}: server maintenance.${end}`;
  }
  if (e.status === 408) return `${prefix}: the car is asleep or offline. Wake it, then try again.`;
  if (e.status === 429) return `${prefix}: too many requests. Try again in ${Math.ceil(e.retryAfter || 10)} s.`;
  return `${prefix}: ${e.description}`;
}

// --- the list of cars --------------------------------------------------------------------

export async function load() {
  const host = document.getElementById("cars");
  let vehicles;
  try {
    vehicles = await api("/api/1/vehicles", { component: "vehicle_data" });
    localStorage.setItem("pitstop.vehicles", JSON.stringify(vehicles));
  } catch (e) {
    vehicles = JSON.parse(localStorage.getItem("pitstop.vehicles") || "null");
    if (!vehicles) throw e;
  }
  document.getElementById("cars-empty").hidden = vehicles.length > 0;
  for (const v of vehicles) {
    const card = cards.get(v.vin);
    if (card) card.vehicle = { ...card.vehicle, ...v };
    else cards.set(v.vin, new Card(v, host));
  }
  await refreshAll();
}

export async function refreshAll() {
  clearTimeout(pollTimer);
  try {
    await Promise.all([...cards.values()].filter((c) => !c.busy).map((c) => c.refresh()));
  } finally {
    const wait = tuning.data * (0.8 + Math.random() * 0.4) * 1000;
    pollTimer = setTimeout(() => {
      if (document.visibilityState !== "hidden") refreshAll();
      else pollTimer = setTimeout(refreshAll, wait);
    }, wait);
  }
}

export function pausedChanged() {
  for (const c of cards.values()) {
    c.paused();
    c.renderAge();
  }
}

setInterval(() => {
  for (const c of cards.values()) c.renderAge();
}, 5000);

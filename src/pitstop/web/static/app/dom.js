// Building the page: one element helper, and the live "expected back" countdown that the app's
// maintenance notice and the service screen's notice both show.

import { countdown, when } from "./words.js";

// el("p", { class: "x", text: "Hi", hidden: true }, child, ...): attributes that are null,
// undefined or false are left out, true is an empty attribute; null children are skipped.
export const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
};

// "Expected back at 14:30 today: 12 min 05 s left", the countdown filled in by updateCountdowns.
export function expectedBack(end, attrs = {}) {
  return el(
    "p",
    attrs,
    "Expected back at ",
    el("time", { datetime: end.toISOString(), text: when(end) }),
    ": ",
    el("span", { class: "countdown", role: "timer", "aria-live": "off", "data-until": end.toISOString() }),
  );
}

// Every countdown in `box` says the time left now; `each(span, secondsLeft)` for anything more.
export function updateCountdowns(box, each = null, now = Date.now()) {
  for (const c of box.querySelectorAll(".countdown")) {
    const left = (Date.parse(c.dataset.until) - now) / 1000;
    c.textContent = left > 0 ? `${countdown(left)} left` : "any moment now";
    each?.(c, left);
  }
}

// A plain map without tiles: the car's recent track and position as SVG, with a scale bar.
// Positions are kept on this device (the API reports where a car is, not where it was).

const NS = "http://www.w3.org/2000/svg";
const KEEP = 200;

export function remember(vin, lat, lon, at) {
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return track(vin);
  const key = `pitstop.track.${vin}`;
  const points = track(vin);
  const last = points[points.length - 1];
  if (!last || Math.abs(last[0] - lat) > 1e-6 || Math.abs(last[1] - lon) > 1e-6) {
    points.push([lat, lon, at || Date.now()]);
    while (points.length > KEEP) points.shift();
    try {
      localStorage.setItem(key, JSON.stringify(points));
    } catch {
      /* storage full: the map shows less history */
    }
  }
  return points;
}

export function track(vin) {
  try {
    return JSON.parse(localStorage.getItem(`pitstop.track.${vin}`) || "[]");
  } catch {
    return [];
  }
}

function svg(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function niceMeters(m) {
  const steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
  return steps.find((s) => s >= m) || steps[steps.length - 1];
}

export function draw(container, points, heading) {
  const W = 320;
  const H = 180;
  const pad = 24;
  const lats = points.map((p) => p[0]);
  const lons = points.map((p) => p[1]);
  const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
  const kx = Math.cos((midLat * Math.PI) / 180); // degrees of longitude shrink away from the equator
  let spanX = (Math.max(...lons) - Math.min(...lons)) * kx;
  let spanY = Math.max(...lats) - Math.min(...lats);
  const span = Math.max(spanX, spanY * (W / H), 0.004); // at least ~450 m across
  const scale = (W - 2 * pad) / span; // px per degree of latitude
  const cx = (Math.min(...lons) + Math.max(...lons)) / 2;
  const cy = midLat;
  const x = (lon) => W / 2 + (lon - cx) * kx * scale;
  const y = (lat) => H / 2 - (lat - cy) * scale;

  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "map-svg", "aria-hidden": "true", focusable: "false" });
  root.append(svg("rect", { x: 0, y: 0, width: W, height: H, class: "map-bg" }));
  for (let i = 1; i < 6; i++) {
    root.append(svg("line", { x1: (W * i) / 6, y1: 0, x2: (W * i) / 6, y2: H, class: "map-grid" }));
  }
  for (let i = 1; i < 4; i++) {
    root.append(svg("line", { x1: 0, y1: (H * i) / 4, x2: W, y2: (H * i) / 4, class: "map-grid" }));
  }
  if (points.length > 1) {
    root.append(svg("polyline", { points: points.map((p) => `${x(p[1]).toFixed(1)},${y(p[0]).toFixed(1)}`).join(" "), class: "map-track" }));
  }
  const [lat, lon] = points[points.length - 1];
  const px = x(lon);
  const py = y(lat);
  const car = svg("g", { transform: `translate(${px.toFixed(1)} ${py.toFixed(1)}) rotate(${Number(heading) || 0})`, class: "map-car" });
  car.append(svg("circle", { r: 9 }), svg("path", { d: "M0,-6 L4.5,4.5 L0,2 L-4.5,4.5 Z", class: "map-arrow" }));
  root.append(car);
  // North arrow and scale bar.
  root.append(svg("text", { x: W - 14, y: 16, class: "map-label", "text-anchor": "middle" }));
  root.lastChild.textContent = "N";
  root.append(svg("path", { d: `M${W - 14},20 l-4,8 h8 z`, class: "map-north" }));
  const metersPerPx = 111_320 / scale;
  const bar = niceMeters(metersPerPx * 80);
  const barPx = bar / metersPerPx;
  root.append(svg("line", { x1: 10, y1: H - 12, x2: 10 + barPx, y2: H - 12, class: "map-scale" }));
  const label = svg("text", { x: 10, y: H - 18, class: "map-label" });
  label.textContent = bar >= 1000 ? `${bar / 1000} km` : `${bar} m`;
  root.append(label);
  container.replaceChildren(root);
}

// The map: Natural Earth country outlines (world-atlas, vendored; no tile server) in a
// Mercator projection fitted to the Arab world, Iran and Turkey (d3-geo), with a marker per
// place the alerts name (positions from GET /places: GeoNames coordinates, or the country's
// centre, drawn as a ring). A marker filters the console by its region.

import { svg, el } from "./dom.js";
import { plural, COUNTS, SEVERITY } from "./arabic.js";

const W = 960;
const H = 540;
const EXTENT = { type: "MultiPoint", coordinates: [[-17.5, 9], [63.5, 42.5]] };
const LABELS = 10; // markers that get their name written beside them

export class MapView {
  constructor(container, onPick) {
    this.container = container;
    this.onPick = onPick;
    this.root = svg("svg", {
      viewBox: `0 0 ${W} ${H}`, class: "map-svg", role: "group", "aria-label": "خريطة التنبيهات",
    });
    this.land = svg("g", { class: "land" });
    this.marks = svg("g", { class: "marks" });
    this.root.append(this.land, this.marks);
    this.note = el("p", "map-note");
    container.replaceChildren(this.root, this.note);
    this.projection = null;
    this.last = null;
    // markers keep their size on screen whatever the map's width (a phone, a 4K wall)
    if (window.ResizeObserver) {
      new ResizeObserver(() => this.last && this.render(...this.last)).observe(this.root);
    }
  }

  async load() {
    const { d3, topojson } = window;
    if (!d3 || !d3.geoMercator || !topojson) throw new Error("map libraries not loaded");
    const response = await fetch("/static/vendor/countries-50m.json");
    if (!response.ok) throw new Error("outline " + response.status);
    const topo = await response.json();
    this.projection = d3.geoMercator()
      .fitExtent([[4, 4], [W - 4, H - 4]], EXTENT)
      .clipExtent([[0, 0], [W, H]]);
    const path = d3.geoPath(this.projection);
    const countries = topojson.feature(topo, topo.objects.countries).features;
    for (const f of countries) {
      const d = path(f);
      if (d) this.land.append(svg("path", { d, class: "country" }));
    }
    const borders = path(topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b));
    if (borders) this.land.append(svg("path", { d: borders, class: "border" }));
  }

  // markers: [{key, code, lat, lon, exact, label, count, severity}]
  render(markers, selected) {
    this.last = [markers, selected];
    this.marks.replaceChildren();
    if (!this.projection) return;
    // viewBox units per screen pixel (CSS sizes text and strokes with it), times the page's
    // type scale for the markers (larger on a wall screen)
    const perPixel = W / Math.max(240, this.root.clientWidth || W);
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) / 15 || 1;
    const k = perPixel * rem;
    this.root.style.setProperty("--k", String(perPixel));
    let outside = 0;
    const placed = [];
    for (const m of [...markers].sort((a, b) => b.count - a.count)) {
      const p = this.projection([m.lon, m.lat]);
      if (!p || p[0] < 0 || p[0] > W || p[1] < 0 || p[1] > H) {
        outside += 1;
        continue;
      }
      placed.push([m, p]);
    }
    const labelled = [];
    placed.forEach(([m, [x, y]]) => {
      const label = `${m.label} — ${plural(m.count, COUNTS.stories)} · ${SEVERITY[m.severity] || ""}`;
      const g = svg("g", {
        class: `marker sev-${m.severity}${m.exact ? "" : " country"}${selected === m.code ? " selected" : ""}`,
        tabindex: 0, role: "button", "aria-label": label,
        "data-code": m.code, "data-count": m.count, "data-exact": m.exact ? "1" : "0",
      });
      const r = (5 + 3 * Math.sqrt(m.count)) * k;
      g.append(svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: r.toFixed(1) }));
      if (m.count > 1) {
        const n = svg("text", { x: x.toFixed(1), y: (y + 4 * k).toFixed(1), class: "count" });
        n.textContent = String(m.count);
        g.append(n);
      }
      // a name beside the biggest markers, unless it would sit on another name
      const free = labelled.every(([lx, ly]) => Math.abs(lx - x) > 70 * k || Math.abs(ly - y) > 16 * k);
      if (labelled.length < LABELS && free) {
        labelled.push([x, y]);
        const t = svg("text", { x: (x - r - 3 * k).toFixed(1), y: (y + 4 * k).toFixed(1), class: "label" });
        t.textContent = m.label;
        g.append(t);
      }
      const title = svg("title");
      title.textContent = label;
      g.append(title);
      g.addEventListener("click", () => this.onPick(m.code));
      g.addEventListener("keydown", e => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          this.onPick(m.code);
        }
      });
      // smaller markers drawn last, on top of the bigger ones
      this.marks.append(g);
    });
    this.note.textContent = outside ? plural(outside, COUNTS.outside) : "";
  }
}

// Alerts per hour for the filtered view, over the last 24 hours or 7 days: one bar per hour,
// coloured by the highest severity in it, time running right to left (the reading direction:
// «الآن» at the left end). A bar narrows the view to its hour.

import { svg } from "./dom.js";
import { plural, COUNTS, hourLabel, dayLabel, number } from "./arabic.js";

const W = 960;
const H = 200;
const SIDE = 10;

export class Timeline {
  constructor(container, onPick) {
    this.onPick = onPick;
    this.root = svg("svg", {
      viewBox: `0 0 ${W} ${H}`, class: "timeline-svg", role: "group", "aria-label": "التنبيهات في كل ساعة",
    });
    container.replaceChildren(this.root);
    this.last = null;
    if (window.ResizeObserver) {
      new ResizeObserver(() => this.last && this.render(...this.last)).observe(this.root);
    }
  }

  // bins: [{start, count, severity}] oldest first (stories.js hourly)
  render(bins, selectedStart) {
    const root = this.root;
    root.replaceChildren();
    this.last = [bins, selectedStart];
    // labels keep their size on screen whatever the chart's width (viewBox units per pixel)
    const perPixel = W / Math.max(240, root.clientWidth || W);
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) / 15 || 1;
    const k = perPixel * rem; // room for the labels, whose size CSS sets with --k
    root.style.setProperty("--k", String(perPixel));
    const TOP = 16 * k;
    const BOTTOM = 18 * k;
    const n = bins.length;
    const max = Math.max(1, ...bins.map(b => b.count));
    const step = (W - 2 * SIDE) / n;
    const gap = n > 48 ? 0.5 : 2;
    const height = H - TOP - BOTTOM;
    root.append(svg("line", { x1: SIDE, x2: W - SIDE, y1: H - BOTTOM, y2: H - BOTTOM, class: "axis" }));
    const top = svg("text", { x: W - SIDE, y: TOP - 3 * k, class: "tick max" });
    top.textContent = number(max);
    root.append(top);
    const days = n > 48;
    bins.forEach((bin, i) => {
      const x = W - SIDE - (i + 1) * step; // oldest at the right
      const h = bin.count ? Math.max(2, (bin.count / max) * height) : 0;
      const label = `${hourLabel(bin.start, { withDay: true })}: ${plural(bin.count, COUNTS.alerts)}`;
      const bar = svg("rect", {
        x: (x + gap / 2).toFixed(2), y: (H - BOTTOM - h).toFixed(2),
        width: Math.max(0.5, step - gap).toFixed(2), height: h.toFixed(2),
        class: `bar sev-${bin.severity || "none"}${bin.start === selectedStart ? " selected" : ""}`,
        "data-count": bin.count, "data-start": new Date(bin.start).toISOString(),
      });
      // an invisible full-height target: an hour with a short bar is still easy to hit
      const hit = svg("rect", {
        x: x.toFixed(2), y: TOP, width: step.toFixed(2), height: height, class: "hit",
        tabindex: bin.count ? 0 : -1, role: "button", "aria-label": label,
      });
      const title = svg("title");
      title.textContent = label;
      hit.append(title);
      if (bin.count) {
        hit.addEventListener("click", () => this.onPick(bin.start));
        hit.addEventListener("keydown", e => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            this.onPick(bin.start);
          }
        });
      }
      root.append(bar, hit);
      const d = new Date(bin.start);
      const tick = days ? d.getHours() === 0 : d.getHours() % 6 === 0;
      if (tick) {
        const t = svg("text", { x: (x + step / 2).toFixed(2), y: (H - 4 * k).toFixed(2), class: "tick" });
        t.textContent = days ? dayLabel(bin.start) : hourLabel(bin.start);
        root.append(t);
      }
    });
  }
}

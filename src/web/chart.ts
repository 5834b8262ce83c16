/**
 * The candlestick chart: uPlot fed columnar `[t, o, h, l, c, v]` data plus one column per
 * overlay. uPlot draws the overlay lines; a small plugin draws volume bars (before the
 * series, so lines stay on top) and the candles with the last-price line (on `draw`).
 */
import uPlot from "uplot";
import type { Overlay } from "./overlays.ts";

/** `[t (s), open, high, low, close, volume]`, ascending time. */
export type Columns = [number[], number[], number[], number[], number[], number[]];

/** Colors of the chart, matching style.css. */
export const COLORS = {
  up: "#26a69a",
  down: "#ef5350",
  upVolume: "rgba(38, 166, 154, 0.28)",
  downVolume: "rgba(239, 83, 80, 0.28)",
  axis: "#7d8590",
  grid: "rgba(125, 133, 144, 0.12)",
  labelText: "#0b0e14",
};

const FONT = '11px "Inter", ui-sans-serif, system-ui, -apple-system, "Segoe UI", sans-serif';

/** Formats a price with enough digits for the instrument: 61,837.63 or 0.0013562. */
export function formatPrice(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 2 : abs >= 1 ? 4 : Math.min(10, 3 - Math.floor(Math.log10(abs || 1)) + 2);
  return value.toLocaleString("en-US", { minimumFractionDigits: abs >= 1000 ? 2 : 0, maximumFractionDigits: digits });
}

/** Formats a volume compactly: 1.2K, 34.5M. */
export function formatVolume(value: number): string {
  return value.toLocaleString("en-US", { notation: "compact", maximumFractionDigits: value < 1 ? 4 : 2 });
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Time-axis labels in UTC, 24-hour: `14:05`, a date at midnight, seconds when ticks are that close. */
export function formatTimes(splits: number[], increment: number): string[] {
  return splits.map((s) => {
    const d = new Date(s * 1000);
    const date = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
    if (increment >= 86_400 || s % 86_400 === 0) return date;
    const hhmm = d.toISOString().slice(11, 16);
    return increment < 60 ? d.toISOString().slice(11, 19) : hhmm;
  });
}

/** What the page does with a chart. */
export interface Chart {
  /** Replaces the data; `step` is the interval in seconds (candle width). */
  setData(columns: Columns, step: number): void;
  /** Fits the chart to its container. */
  resize(): void;
  /** The canvas the candles are drawn on. */
  readonly canvas: HTMLCanvasElement;
}

/** Options of {@link createChart}. */
export interface ChartOptions {
  overlays: readonly Overlay[];
  /** Called with the hovered candle's index, or null when the cursor leaves. */
  onHover?: (index: number | null) => void;
}

/** Draws volume bars, candles and the last-price line; the candle width follows `step()`. */
function candlePlugin(step: () => number): uPlot.Plugin {
  const columns = (u: uPlot) => u.data as unknown as Columns;

  function clip(u: uPlot, draw: (ctx: CanvasRenderingContext2D) => void) {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.beginPath();
    ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
    ctx.clip();
    draw(ctx);
    ctx.restore();
  }

  function bodyWidth(u: uPlot): number {
    const t = columns(u)[0];
    const slot = Math.abs(u.valToPos((t[0] ?? 0) + step(), "x", true) - u.valToPos(t[0] ?? 0, "x", true));
    return Math.max(1, Math.round(Math.min(slot * 0.72, 22 * devicePixelRatio)));
  }

  function volume(u: uPlot) {
    const [t, o, , , c, v] = columns(u);
    if (t.length === 0) return;
    const width = bodyWidth(u);
    const base = u.valToPos(0, "vol", true);
    const up = new Path2D();
    const down = new Path2D();
    for (let i = 0; i < t.length; i++) {
      const x = Math.round(u.valToPos(t[i]!, "x", true) - width / 2);
      const y = Math.round(u.valToPos(v[i]!, "vol", true));
      (c[i]! >= o[i]! ? up : down).rect(x, y, width, Math.max(1, base - y));
    }
    clip(u, (ctx) => {
      ctx.fillStyle = COLORS.upVolume;
      ctx.fill(up);
      ctx.fillStyle = COLORS.downVolume;
      ctx.fill(down);
    });
  }

  function candles(u: uPlot) {
    const [t, o, h, l, c] = columns(u);
    if (t.length === 0) return;
    const width = bodyWidth(u);
    const wick = Math.max(1, Math.round(devicePixelRatio));
    const up = new Path2D();
    const down = new Path2D();
    for (let i = 0; i < t.length; i++) {
      const x = u.valToPos(t[i]!, "x", true);
      const top = Math.round(u.valToPos(Math.max(o[i]!, c[i]!), "y", true));
      const bottom = Math.round(u.valToPos(Math.min(o[i]!, c[i]!), "y", true));
      const high = Math.round(u.valToPos(h[i]!, "y", true));
      const low = Math.round(u.valToPos(l[i]!, "y", true));
      const path = c[i]! >= o[i]! ? up : down;
      path.rect(Math.round(x - wick / 2), high, wick, Math.max(1, low - high));
      path.rect(Math.round(x - width / 2), top, width, Math.max(1, bottom - top));
    }
    clip(u, (ctx) => {
      ctx.fillStyle = COLORS.up;
      ctx.fill(up);
      ctx.fillStyle = COLORS.down;
      ctx.fill(down);
    });
    lastPrice(u, c[c.length - 1]!, c[c.length - 1]! >= o[o.length - 1]! ? COLORS.up : COLORS.down);
  }

  function lastPrice(u: uPlot, close: number, color: string) {
    const { ctx, bbox } = u;
    const y = Math.round(u.valToPos(close, "y", true)) + 0.5;
    if (y < bbox.top || y > bbox.top + bbox.height) return;
    const px = devicePixelRatio;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = px;
    ctx.setLineDash([3 * px, 3 * px]);
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
    const text = formatPrice(close);
    ctx.font = FONT.replace("11px", `${11 * px}px`);
    const height = 18 * px;
    const left = bbox.left + bbox.width + 2 * px;
    ctx.fillStyle = color;
    ctx.fillRect(left, y - height / 2, ctx.measureText(text).width + 12 * px, height);
    ctx.fillStyle = COLORS.labelText;
    ctx.textBaseline = "middle";
    ctx.fillText(text, left + 6 * px, y);
    ctx.restore();
  }

  return { hooks: { drawAxes: [volume], draw: [candles] } };
}

/** Creates a chart filling `el`. */
export function createChart(el: HTMLElement, options: ChartOptions): Chart {
  let step = 60;
  const hidden = () => null;
  const ohlcv = (label: string, scale = "y"): uPlot.Series => ({ label, scale, paths: hidden, points: { show: false } });
  const axis = (extra: uPlot.Axis): uPlot.Axis => ({
    stroke: COLORS.axis,
    font: FONT,
    grid: { stroke: COLORS.grid, width: 1 },
    ticks: { stroke: COLORS.grid, width: 1, size: 4 },
    ...extra,
  });

  const opts: uPlot.Options = {
    width: Math.max(100, el.clientWidth),
    height: Math.max(100, el.clientHeight),
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    legend: { show: false },
    padding: [12, 0, 0, 20],
    cursor: {
      points: { show: false },
      drag: { x: false, y: false, setScale: false },
    },
    scales: {
      x: {
        time: true,
        range: (_u, min, max) => (min == null || max == null ? [0, 1] : [min - step, max + step * 3]),
      },
      y: {
        range: (_u, min, max) => {
          if (min == null || max == null) return [0, 1];
          const span = max - min || Math.abs(max) * 0.002 || 1;
          // Room below for the volume bars, which take the bottom fifth.
          return [min - span * 0.3, max + span * 0.08];
        },
      },
      vol: { range: (_u, _min, max) => [0, (max || 1) * 5] },
    },
    series: [
      {},
      ohlcv("Open"),
      ohlcv("High"),
      ohlcv("Low"),
      ohlcv("Close"),
      ohlcv("Volume", "vol"),
      ...options.overlays.map((o): uPlot.Series => ({
        label: o.label,
        scale: "y",
        stroke: o.color,
        width: 2,
        points: { show: false },
      })),
    ],
    axes: [
      axis({ space: 80, values: (_u, splits, _axis, _space, increment) => formatTimes(splits, increment) }),
      axis({
        scale: "y",
        side: 1,
        size: 84,
        values: (_u, splits) => splits.map(formatPrice),
      }),
    ],
    plugins: [candlePlugin(() => step)],
    hooks: {
      setCursor: [(u) => options.onHover?.(u.cursor.left != null && u.cursor.left >= 0 ? (u.cursor.idx ?? null) : null)],
    },
  };

  const empty = (): uPlot.AlignedData => [[], [], [], [], [], [], ...options.overlays.map(() => [])];
  const plot = new uPlot(opts, empty(), el);

  return {
    canvas: plot.ctx.canvas,
    setData(columns, interval) {
      step = interval;
      const closes = columns[4];
      plot.setData([...columns, ...options.overlays.map((o) => o.compute(closes))] as uPlot.AlignedData);
    },
    resize() {
      plot.setSize({ width: Math.max(100, el.clientWidth), height: Math.max(100, el.clientHeight) });
    },
  };
}

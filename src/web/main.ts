/**
 * The dashboard: one symbol × interval at a time, kept live over `/ws`. Snapshot columns go
 * to the chart as they arrive; candle frames append or replace a candle in those columns.
 * The page's state is mirrored in data attributes on `#app` (status, symbol, interval,
 * candles, last close) so people and tests can read what is drawn.
 */
import "uplot/dist/uPlot.min.css";
import { intervalMs } from "../lib/interval.ts";
import type { Alert, Candle } from "../lib/types.ts";
import { createAlerts } from "./alerts.ts";
import { type Columns, createChart, formatPrice, formatVolume } from "./chart.ts";
import { OVERLAYS } from "./overlays.ts";
import { connect, type ServerFrame, type Status } from "./socket.ts";

/** Most candles kept per chart: the snapshot's 300 plus room to grow live. */
const MAX_CANDLES = 1000;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const app = $("app");
const symbolPicker = $<HTMLSelectElement>("symbol");
const intervalPicker = $("intervals");
const empty = $("empty");

const params = new URLSearchParams(location.search);
let symbol = params.get("symbol")?.toUpperCase() ?? "";
let interval = params.get("interval") ?? "";
let columns: Columns | null = null;
let hovered: number | null = null;
let frameQueued = false;

const chart = createChart($("chart"), {
  overlays: OVERLAYS,
  onHover(index) {
    hovered = index;
    readout();
  },
});
new ResizeObserver(() => chart.resize()).observe($("chart"));

$("legend").replaceChildren(
  ...OVERLAYS.map((o) => {
    const li = document.createElement("li");
    li.style.setProperty("--color", o.color);
    li.textContent = o.label;
    return li;
  }),
);

const alerts = createAlerts($("alerts"), $("alert-count"));

const socket = connect({
  url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
  onFrame,
  onStatus,
});

void fetchSymbols();
if (symbol) choose(symbol, interval || "1m");

function onStatus(status: Status) {
  app.dataset.status = status;
  const el = $("status");
  el.dataset.state = status;
  el.lastElementChild!.textContent = status;
  if (status !== "live" && !columns) empty.textContent = status === "connecting" ? "Connecting…" : "Reconnecting…";
}

function onFrame(frame: ServerFrame) {
  switch (frame.type) {
    case "hello": {
      setSymbols(frame.symbols);
      setIntervals(frame.intervals);
      const nextSymbol = frame.symbols.includes(symbol) ? symbol : (frame.symbols[0] ?? symbol);
      const nextInterval = frame.intervals.includes(interval)
        ? interval
        : frame.intervals.includes("1m") ? "1m" : (frame.intervals[0] ?? interval);
      if (nextSymbol && nextInterval) choose(nextSymbol, nextInterval);
      break;
    }
    case "snapshot":
      if (frame.symbol !== symbol || frame.interval !== interval) return;
      columns = frame.columns;
      app.dataset.snapshots = String(Number(app.dataset.snapshots ?? 0) + 1);
      render();
      break;
    case "candle":
      if (frame.candle.symbol !== symbol || frame.candle.interval !== interval || !columns) return;
      upsert(columns, frame.candle);
      render();
      break;
    case "alert":
      if (frame.alert.symbol === symbol) alerts.add([frame.alert]);
      break;
    case "error":
      notice(`${frame.code}: ${frame.message}`);
      break;
  }
}

/** Shows one symbol × interval: unsubscribes the old pair and waits for the new snapshot. */
function choose(nextSymbol: string, nextInterval: string) {
  if (nextSymbol === symbol && nextInterval === interval && app.dataset.symbol) return;
  if (app.dataset.symbol) socket.unsubscribe(app.dataset.symbol, app.dataset.interval!);
  const symbolChanged = nextSymbol !== app.dataset.symbol;
  symbol = nextSymbol;
  interval = nextInterval;
  app.dataset.symbol = symbol;
  app.dataset.interval = interval;
  columns = null;
  hovered = null;
  history.replaceState(null, "", `?symbol=${encodeURIComponent(symbol)}&interval=${encodeURIComponent(interval)}`);
  symbolPicker.value = symbol;
  for (const button of intervalPicker.querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.interval === interval));
  }
  $("pair").textContent = symbol;
  socket.subscribe(symbol, interval);
  if (symbolChanged) {
    alerts.clear();
    void fetchAlerts(symbol);
  }
  render();
}

/** Puts a live candle into the columns: replaces its window, or inserts it in time order. */
function upsert(cols: Columns, candle: Candle) {
  const t = candle.openTime / 1000;
  const row = [t, +candle.open, +candle.high, +candle.low, +candle.close, +candle.volume];
  const times = cols[0];
  let i = times.length - 1;
  while (i >= 0 && times[i]! > t) i--;
  if (i >= 0 && times[i] === t) cols.forEach((col, k) => (col[i] = row[k]!));
  else cols.forEach((col, k) => col.splice(i + 1, 0, row[k]!));
  if (times.length > MAX_CANDLES) cols.forEach((col) => col.splice(0, times.length - MAX_CANDLES));
}

/** Redraws at most once per animation frame, however fast frames arrive. */
function render() {
  if (frameQueued) return;
  frameQueued = true;
  requestAnimationFrame(() => {
    frameQueued = false;
    draw();
  });
}

function draw() {
  const cols = columns ?? [[], [], [], [], [], []];
  const n = cols[0].length;
  chart.setData(cols, intervalMs(interval || "1m") / 1000);
  empty.hidden = n > 0;
  if (!columns) empty.textContent = `Loading ${symbol} ${interval}…`;
  else if (n === 0) empty.textContent = "No candles yet";
  app.dataset.candles = String(n);
  $("count").textContent = `${n} candle${n === 1 ? "" : "s"}`;
  if (n === 0) {
    app.dataset.lastClose = app.dataset.lastTime = "";
    $("price").textContent = "—";
    $("change").textContent = "";
    readout();
    return;
  }
  const last = n - 1;
  const close = cols[4][last]!;
  app.dataset.lastClose = String(close);
  app.dataset.lastTime = String(cols[0][last]);
  const price = $("price");
  price.textContent = formatPrice(close);
  price.dataset.dir = close >= cols[1][last]! ? "up" : "down";
  const change = ((close - cols[1][0]!) / cols[1][0]!) * 100;
  const changeEl = $("change");
  changeEl.textContent = `${change >= 0 ? "+" : ""}${change.toFixed(2)}% · ${n} candles`;
  changeEl.dataset.dir = change >= 0 ? "up" : "down";
  $("updated").textContent = `last candle ${new Date(cols[0][last]! * 1000).toISOString().slice(0, 16).replace("T", " ")}`;
  document.title = `${formatPrice(close)} ${symbol} · candleflow`;
  readout();
}

/** O/H/L/C/V of the hovered candle, or of the last one. */
function readout() {
  const cols = columns;
  const n = cols?.[0].length ?? 0;
  const i = hovered !== null && hovered < n ? hovered : n - 1;
  const fields: Record<string, string> = { open: "—", high: "—", low: "—", close: "—", volume: "—" };
  if (cols && i >= 0) {
    fields.open = formatPrice(cols[1][i]!);
    fields.high = formatPrice(cols[2][i]!);
    fields.low = formatPrice(cols[3][i]!);
    fields.close = formatPrice(cols[4][i]!);
    fields.volume = formatVolume(cols[5][i]!);
    $("ohlc").dataset.dir = cols[4][i]! >= cols[1][i]! ? "up" : "down";
  }
  for (const dd of $("ohlc").querySelectorAll<HTMLElement>("dd")) dd.textContent = fields[dd.dataset.field!]!;
}

function setSymbols(symbols: string[]) {
  const current = [...symbolPicker.options].map((o) => o.value).join();
  if (symbols.length === 0 || current === symbols.join()) return;
  symbolPicker.replaceChildren(...symbols.map((s) => new Option(s, s)));
  symbolPicker.value = symbol;
}

function setIntervals(intervals: string[]) {
  intervalPicker.replaceChildren(
    ...intervals.map((label) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.dataset.interval = label;
      button.setAttribute("aria-pressed", String(label === interval));
      return button;
    }),
  );
}

symbolPicker.addEventListener("change", () => choose(symbolPicker.value, interval));
intervalPicker.addEventListener("click", (event) => {
  const button = (event.target as HTMLElement).closest("button");
  if (button?.dataset.interval) choose(symbol, button.dataset.interval);
});

/** Symbols from REST, so the picker fills even before the socket is up. */
async function fetchSymbols() {
  try {
    const body = await getJson("/api/v1/symbols");
    const list = Array.isArray(body) ? body : (body as { symbols?: unknown })?.symbols;
    if (Array.isArray(list)) setSymbols(list.map((s) => (typeof s === "string" ? s : String((s as { symbol?: string }).symbol))));
  } catch {
    // The hello frame brings the symbols too.
  }
}

/** Recent alerts of a symbol from REST; live ones follow over the socket. */
async function fetchAlerts(forSymbol: string) {
  try {
    const body = await getJson(`/api/v1/alerts?symbol=${encodeURIComponent(forSymbol)}&limit=50`);
    const list = Array.isArray(body) ? body : (body as { alerts?: unknown })?.alerts;
    if (forSymbol === symbol && Array.isArray(list)) alerts.add(list as Alert[]);
  } catch (error) {
    notice(`alerts: ${(error as Error).message}`);
  }
}

async function getJson(path: string): Promise<unknown> {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function notice(text: string) {
  const el = $("notice");
  el.textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (el.textContent = ""), 8_000);
}

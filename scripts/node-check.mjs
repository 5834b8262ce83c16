/**
 * Replays a recorded Binance WebSocket trade stream through the BUILT package under Node and
 * prints `{ candles, snapshotHex, resolved }` as JSON. It imports "candleflow" by name, so it goes
 * through package.json "exports" (Node resolves a package's own name from inside it) to dist/.
 *
 *   bun run build && node scripts/node-check.mjs <trades.ws.jsonl> [maxLines]
 *
 * Mirrors replay() in deno-check.ts; the two must stay in step. The package does not export the
 * Binance decoder, so lines are decoded here with JSON.parse: a disagreement with the
 * decoder would show as different candles.
 */
import { readFileSync } from "node:fs";
import { Engine } from "candleflow";

const OPTIONS = JSON.parse(readFileSync(new URL("./portability.json", import.meta.url), "utf8"));

function decodeLine(line) {
  const msg = JSON.parse(line);
  const d = msg.data ?? msg;
  if (d.e !== "trade") return undefined;
  return {
    symbol: String(d.s),
    id: Number(d.t),
    price: String(d.p),
    qty: String(d.q),
    ts: Number(d.T),
    side: d.m ? "sell" : "buy",
  };
}

const [input, max] = process.argv.slice(2);
if (!input) {
  console.error("usage: node scripts/node-check.mjs <trades.ws.jsonl> [maxLines]");
  process.exit(2);
}
const lines = readFileSync(input, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .slice(0, max ? Number(max) : Infinity);

const trades = lines.map(decodeLine).filter((t) => t !== undefined);
const engine = new Engine(OPTIONS);
const candles = [];
const keep = (events) => {
  for (const e of events) if (e.type === "final" || e.type === "revision") candles.push(e.candle);
};
keep(engine.ingestMany(trades));
const snapshot = engine.snapshot(`lines:${lines.length}`);
keep(engine.flush());
const snapshotHex = Array.from(snapshot, (b) => b.toString(16).padStart(2, "0")).join("");

// Where the name resolved to, so a caller can see the built files were the ones run.
const resolved = import.meta.resolve("candleflow");

console.log(JSON.stringify({ candles, snapshotHex, resolved }));

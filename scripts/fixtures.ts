import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 as prng } from "../src/server/testing/random.ts";

/**
 * `bun run scripts/fixtures.ts [--out <dir>]`: writes the project's own small fixtures
 * (default `fixtures/`). Seeded, so every run writes the same bytes. Each file is a clean
 * generated stream with one kind of trouble mixed in; fixtures/README.md lists them.
 */

/** A generated trade, with the time it reaches the feed (Binance `E`). */
interface Row {
  symbol: string;
  id: number;
  price: string;
  qty: string;
  ts: number;
  arrival: number;
  maker: boolean;
}

/** Integer `units` of 10^-places as a Binance 8-decimal string. */
function fixed8(units: number, places: number): string {
  const scaled = BigInt(units) * 10n ** BigInt(8 - places);
  const whole = scaled / 100_000_000n;
  const frac = (scaled % 100_000_000n).toString().padStart(8, "0");
  return `${whole}.${frac}`;
}

interface Market {
  symbol: string;
  /** Starting price in units of 10^-pricePlaces. */
  price: number;
  pricePlaces: number;
  /** Largest quantity in units of 10^-qtyPlaces. */
  maxQty: number;
  qtyPlaces: number;
  firstId: number;
}

/**
 * A clean stream of one symbol: times strictly increasing from `from` to before `to`,
 * mean gap `meanGap` ms, a price random walk, and a silence over `quiet` ([start, end)).
 */
function walk(rand: () => number, m: Market, from: number, to: number, meanGap: number, quiet?: [number, number]): Row[] {
  const rows: Row[] = [];
  let ts = from;
  let price = m.price;
  let id = m.firstId;
  for (;;) {
    ts += 1 + Math.floor(-Math.log(1 - rand()) * meanGap);
    if (quiet && ts >= quiet[0] && ts < quiet[1]) ts = quiet[1] + Math.floor(rand() * 500);
    if (ts >= to) break;
    price = Math.max(1, price + Math.round((rand() - 0.5) * 6));
    const qty = 1 + Math.floor(rand() * rand() * m.maxQty);
    rows.push({
      symbol: m.symbol,
      id: id++,
      price: fixed8(price, m.pricePlaces),
      qty: fixed8(qty, m.qtyPlaces),
      ts,
      arrival: ts + Math.floor(rand() * 4),
      maker: rand() < 0.5,
    });
  }
  return rows;
}

/** One raw Binance combined-stream line, as the exchange sends it. */
function wsLine(r: Row, scale = 1, extra = 0): string {
  const T = r.ts * scale + extra;
  const E = r.arrival * scale + extra;
  return `{"stream":"${r.symbol.toLowerCase()}@trade","data":{"e":"trade","E":${E},"s":"${r.symbol}","t":${r.id},"p":"${r.price}","q":"${r.qty}","T":${T},"m":${r.maker},"M":true}}`;
}

/** The same trade as a data.binance.vision trades row (`quote_qty` exact, 8 decimals). */
function csvRow(r: Row): string {
  const [pw, pf] = r.price.split(".") as [string, string];
  const [qw, qf] = r.qty.split(".") as [string, string];
  const quote = BigInt(pw + pf) * BigInt(qw + qf);
  const text = quote.toString().padStart(17, "0");
  const quoteQty = `${BigInt(text.slice(0, -16))}.${text.slice(-16, -8)}`;
  return `${r.id},${r.price},${r.qty},${quoteQty},${r.ts},${r.maker ? "True" : "False"},True`;
}

/** Rows in the order the feed delivered them: by arrival, ties by id. */
function byArrival(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => a.arrival - b.arrival || a.id - b.id);
}

function text(lines: string[]): string {
  return `${lines.join("\n")}\n`;
}

/** 2024-01-01T00:00:00Z: a fixed, made-up session. */
const BASE = 1_704_067_200_000;
const MIN = 60_000;

/** Builds every fixture as file name → contents. */
export function fixtures(): Map<string, string> {
  const files = new Map<string, string>();
  const rand = prng(20240101);
  const btc: Market = { symbol: "BTCUSDT", price: 4_250_000, pricePlaces: 2, maxQty: 50_000, qtyPlaces: 5, firstId: 1_000_000 };

  // Clean: 00:00:20 → 00:05:30, no trades in 00:02–00:03 (an empty window for `--empty flat`).
  const clean = walk(rand, btc, BASE + 20_000, BASE + 5 * MIN + 30_000, 2_000, [BASE + 2 * MIN, BASE + 3 * MIN]);
  files.set("clean.ws.jsonl", text(clean.map((r) => wsLine(r))));
  files.set("clean-us.ws.jsonl", text(clean.map((r) => wsLine(r, 1_000, Math.floor(rand() * 1_000)))));
  files.set("BTCUSDT-trades.csv", text(["id,price,qty,quote_qty,time,is_buyer_maker,is_best_match", ...clean.map(csvRow)]));

  // Out of order: each trade reaches the feed up to 8 s late, inside the 10 s bound.
  const shuffled = clean.map((r) => ({ ...r, arrival: r.ts + Math.floor(rand() * 8_000) }));
  files.set("out-of-order.ws.jsonl", text(byArrival(shuffled).map((r) => wsLine(r))));

  // Late: three trades from the last seconds of a minute reach the feed 40 s late, past the bound.
  const lateIds = new Set<number>();
  for (const minute of [0, 3, 4]) {
    const end = BASE + (minute + 1) * MIN;
    const last = clean.filter((r) => r.ts < end && r.ts >= end - 15_000).at(-1);
    if (last) lateIds.add(last.id);
  }
  const late = clean.map((r) => (lateIds.has(r.id) ? { ...r, arrival: r.ts + 40_000 } : r));
  files.set("late.ws.jsonl", text(byArrival(late).map((r) => wsLine(r))));

  // Duplicates: every 15th trade is sent again a few lines later, as after a reconnect.
  const dup: string[] = [];
  clean.forEach((r, i) => {
    dup.push(wsLine(r));
    if (i % 15 === 7 && i >= 3) dup.push(wsLine(clean[i - 3]!));
  });
  files.set("duplicates.ws.jsonl", text(dup));

  // Gap: ids 1000040–1000044 never arrive.
  files.set("gap.ws.jsonl", text(clean.filter((r) => r.id < 1_000_040 || r.id > 1_000_044).map((r) => wsLine(r))));

  // Malformed: the clean stream with one bad line after every 10th line.
  const sample = clean[0]!;
  const bad = (id: number, edit: (line: string) => string) => edit(wsLine({ ...sample, id }));
  const broken = [
    bad(9_000_001, (l) => l.slice(0, 90)),
    bad(9_000_002, (l) => l.replace(`"p":"${sample.price}"`, '"p":"abc"')),
    bad(9_000_003, (l) => l.replace(`"p":"${sample.price}"`, '"p":"-42500.00000000"')),
    bad(9_000_004, (l) => l.replace(`"q":"${sample.qty}"`, '"q":"0.00000000"')),
    bad(9_000_005, (l) => l.replace(`"q":"${sample.qty}",`, "")),
    bad(9_000_006, (l) => l.replace(`"T":${sample.ts}`, '"T":1')),
    bad(9_000_007, (l) => l.replace('"s":"BTCUSDT"', '"s":""')),
  ];
  const malformed: string[] = [];
  clean.forEach((r, i) => {
    malformed.push(wsLine(r));
    const k = (i + 1) / 10 - 1;
    if (Number.isInteger(k) && k < broken.length) malformed.push(broken[k]!);
  });
  files.set("malformed.ws.jsonl", text(malformed));

  // Replay: 30 minutes of three symbols, merged by arrival, for the server's default source.
  const replay = [
    ...walk(rand, { ...btc, firstId: 3_000_000 }, BASE, BASE + 30 * MIN, 2_000),
    ...walk(rand, { symbol: "ETHUSDT", price: 230_000, pricePlaces: 2, maxQty: 40_000, qtyPlaces: 4, firstId: 2_000_000 }, BASE, BASE + 30 * MIN, 2_500),
    ...walk(rand, { symbol: "SOLUSDT", price: 10_000, pricePlaces: 2, maxQty: 5_000, qtyPlaces: 2, firstId: 500_000 }, BASE, BASE + 30 * MIN, 4_000),
  ];
  files.set("replay.ws.jsonl", text(byArrival(replay).map((r) => wsLine(r))));

  files.set("README.md", readme(clean.length, [...lateIds], malformed, broken));
  return files;
}

function readme(cleanCount: number, lateIds: number[], malformed: string[], broken: string[]): string {
  const badLines = broken.map((b) => malformed.indexOf(b) + 1);
  return `# Project fixtures

Generated by \`bun run scripts/fixtures.ts\` (seeded: every run writes the same bytes). Made-up
trades in the exact Binance formats, for tests of the decoders, the \`candles\` command and the
server's default replay. Real recorded data is in \`../shared/fixtures/\`, outside the project.

Every \`*.ws.jsonl\` line is one raw combined-stream message
(\`{"stream":"btcusdt@trade","data":{"e":"trade",...}}\`).

| file | what it holds |
|---|---|
| \`clean.ws.jsonl\` | ${cleanCount} BTCUSDT trades, ids 1000000–${1_000_000 + cleanCount - 1}, 2024-01-01 00:00:20 → 00:05:30 UTC, in order; no trades in 00:02–00:03 |
| \`clean-us.ws.jsonl\` | the same trades with \`T\`/\`E\` in microseconds (sub-millisecond digits added): same candles |
| \`BTCUSDT-trades.csv\` | the same trades as a data.binance.vision trades CSV, with a header row |
| \`out-of-order.ws.jsonl\` | the same trades, each delivered up to 8 s late (inside the 10 s bound): same candles |
| \`late.ws.jsonl\` | the same trades; ids ${lateIds.join(", ")} delivered 40 s late, past the bound |
| \`duplicates.ws.jsonl\` | the same trades, every 15th one sent again a few lines later: same candles |
| \`gap.ws.jsonl\` | the same trades without ids 1000040–1000044 |
| \`malformed.ws.jsonl\` | the clean stream with a bad line after every 10th: lines ${badLines.join(", ")} are bad JSON, price "abc", negative price, zero qty, no qty, absurd time (1 ms), empty symbol |
| \`replay.ws.jsonl\` | 30 minutes of BTCUSDT, ETHUSDT and SOLUSDT, merged in arrival order (the server's default replay) |
`;
}

if (import.meta.main) {
  const at = process.argv.indexOf("--out");
  const dir = at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : join(import.meta.dir, "..", "fixtures");
  mkdirSync(dir, { recursive: true });
  let total = 0;
  for (const [name, body] of fixtures()) {
    writeFileSync(join(dir, name), body);
    total += body.length;
    console.log(`${name.padEnd(24)} ${body.split("\n").length - 1} lines`);
  }
  console.log(`${(total / 1024).toFixed(0)} KiB in ${dir}`);
}

import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = join(import.meta.dir, "..", "..", "..");
const FIXTURES = join(ROOT, "fixtures");
const SHARED = join(ROOT, "..", "shared", "fixtures");
const BTC = join(SHARED, "binance-spot-btcusdt-2024-08-08", "trades.ws.jsonl");
const XRP = join(SHARED, "binance-spot-xrpeth-2019-10", "XRPETH-aggTrades.csv");
const hasShared = existsSync(BTC) && existsSync(XRP);
if (!hasShared) console.warn(`candles.test.ts: ${SHARED} is absent; skipping the recorded-data runs`);

const KEYS = [
  "symbol", "interval", "openTime", "open", "high", "low", "close", "volume", "quoteVolume", "trades",
  "takerBuyVolume", "takerBuyQuoteVolume", "vwap",
];
const MIN = 60_000;
/** 2024-01-01T00:00:00Z, where the project fixtures start. */
const BASE = 1_704_067_200_000;

const tmp = mkdtempSync(join(tmpdir(), "candles-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  rows: Record<string, unknown>[];
}

/** Runs the CLI the way a user does and parses its JSON lines. */
function cli(...args: string[]): Run {
  const p = Bun.spawnSync({ cmd: [process.execPath, "run", "src/server/cli.ts", ...args], cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const stdout = p.stdout.toString();
  const rows = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  return { code: p.exitCode ?? -1, stdout, stderr: p.stderr.toString(), rows };
}

const fixture = (name: string) => join(FIXTURES, name);
const summary = (r: Run) => r.stderr.trim().split("\n").at(-1)!;
const sumTrades = (rows: Record<string, unknown>[], interval: string) =>
  rows.filter((r) => r.interval === interval).reduce((n, r) => n + (r.trades as number), 0);

describe("candles on the project fixtures", () => {
  const clean = cli("candles", "--input", fixture("clean.ws.jsonl"), "--interval", "1m,5m");

  test("writes final candles as JSON lines with exactly the documented keys, in order", () => {
    expect(clean.code).toBe(0);
    expect(clean.rows.length).toBe(7);
    for (const line of clean.stdout.trim().split("\n")) expect(Object.keys(JSON.parse(line))).toEqual(KEYS);
    const first = clean.rows[0]!;
    expect(first.symbol).toBe("BTCUSDT");
    expect(first.openTime).toBe(BASE);
    expect(typeof first.trades).toBe("number");
    for (const key of ["open", "high", "low", "close", "volume", "quoteVolume", "takerBuyVolume", "takerBuyQuoteVolume", "vwap"]) {
      expect(first[key]).toMatch(/^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/);
    }
    expect(summary(clean)).toBe("candles: 107 lines, 107 trades, 7 candles, 0 bad lines, 0 late, 0 duplicates");
  });

  test("orders by interval as given, then open time", () => {
    expect(clean.rows.map((r) => `${r.interval} ${((r.openTime as number) - BASE) / MIN}`)).toEqual([
      "1m 0", "1m 1", "1m 3", "1m 4", "1m 5", "5m 0", "5m 5",
    ]);
    const reversed = cli("candles", "--input", fixture("clean.ws.jsonl"), "--interval", "5m,1m");
    expect(reversed.rows.map((r) => r.interval)).toEqual(["5m", "5m", "1m", "1m", "1m", "1m", "1m"]);
    expect(sumTrades(clean.rows, "1m")).toBe(107);
    expect(sumTrades(clean.rows, "5m")).toBe(107);
  });

  test("default interval is 1m; --empty flat fills the quiet minute with the previous close", () => {
    const skip = cli("candles", "--input", fixture("clean.ws.jsonl"));
    expect(skip.rows.map((r) => r.interval)).toEqual(["1m", "1m", "1m", "1m", "1m"]);
    const flat = cli("candles", "--input", fixture("clean.ws.jsonl"), "--empty", "flat");
    expect(flat.rows.length).toBe(6);
    const quiet = flat.rows[2]!;
    expect(quiet.openTime).toBe(BASE + 2 * MIN);
    expect([quiet.open, quiet.high, quiet.low, quiet.close]).toEqual(Array(4).fill(flat.rows[1]!.close));
    expect([quiet.volume, quiet.trades]).toEqual(["0", 0]);
  });

  test("malformed lines are reported with their line numbers and counted; the run goes on", () => {
    const r = cli("candles", "--input", fixture("malformed.ws.jsonl"), "--interval", "1m,5m");
    expect(r.code).toBe(0);
    const reported = r.stderr.trim().split("\n").slice(0, -1);
    expect(reported.map((l) => l.split(":")[0])).toEqual(["line 11", "line 22", "line 33", "line 44", "line 55", "line 66", "line 77"]);
    expect(reported[0]).toContain("not valid JSON");
    expect(reported[1]).toContain('"abc"');
    expect(reported[2]).toContain('"-42500.00000000"');
    expect(reported[3]).toContain("qty");
    expect(reported[4]).toContain('"q"');
    expect(reported[5]).toContain("ts");
    expect(reported[6]).toContain('"s"');
    expect(summary(r)).toBe("candles: 114 lines, 107 trades, 7 candles, 7 bad lines, 0 late, 0 duplicates");
    expect(r.stdout).toBe(clean.stdout);
  });

  test("a deeply nested line, a 5 MB symbol and a symbol of markup are counted bad lines; the run goes on", () => {
    const lines = readFileSync(fixture("clean.ws.jsonl"), "utf8").trimEnd().split("\n");
    const withSymbol = (symbol: string) => {
      const message = JSON.parse(lines[0]!);
      (message.data ?? message).s = symbol;
      return JSON.stringify(message);
    };
    const hostile = [
      "[".repeat(200_000) + "]".repeat(200_000),
      '{"a":'.repeat(1_000_000) + "1" + "}".repeat(1_000_000),
      withSymbol("S".repeat(5 << 20)),
      withSymbol("<img src=x>"),
    ];
    const file = join(tmp, "hostile.ws.jsonl");
    writeFileSync(file, [...lines.slice(0, 3), ...hostile, ...lines.slice(3)].join("\n") + "\n");
    const r = cli("candles", "--input", file, "--interval", "1m,5m");
    expect(r.code).toBe(0);
    expect(r.stderr.trim().split("\n").slice(0, -1).map((l) => l.split(":")[0])).toEqual(["line 4", "line 5", "line 6", "line 7"]);
    expect(r.stderr.length).toBeLessThan(10_000);
    expect(summary(r)).toBe(`candles: ${lines.length + 4} lines, ${lines.length} trades, ${clean.rows.length} candles, 4 bad lines, 0 late, 0 duplicates`);
    expect(r.stdout).toBe(clean.stdout);
  });

  test("the µs twin, the out-of-order and the duplicated streams give the same candles", () => {
    for (const name of ["clean-us.ws.jsonl", "out-of-order.ws.jsonl", "duplicates.ws.jsonl"]) {
      const r = cli("candles", "--input", fixture(name), "--interval", "1m,5m");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(clean.stdout);
    }
    expect(summary(cli("candles", "--input", fixture("duplicates.ws.jsonl")))).toContain("0 bad lines, 0 late, 7 duplicates");
  });

  test("trades past the out-of-orderness bound are counted late, not aggregated", () => {
    const r = cli("candles", "--input", fixture("late.ws.jsonl"), "--interval", "1m,5m");
    expect(r.code).toBe(0);
    // Three trades too late for their minute; one of them also too late for its 5 minutes.
    expect(summary(r)).toBe("candles: 107 lines, 106 trades, 7 candles, 0 bad lines, 4 late, 0 duplicates");
    expect(sumTrades(r.rows, "1m")).toBe(104);
    expect(sumTrades(r.rows, "5m")).toBe(106);
  });

  test("gzip input and --out to a file give the same candles", () => {
    const gz = join(tmp, "clean.ws.jsonl.gz");
    writeFileSync(gz, gzipSync(readFileSync(fixture("clean.ws.jsonl"))));
    expect(cli("candles", "--input", gz, "--interval", "1m,5m").stdout).toBe(clean.stdout);
    const out = join(tmp, "out.jsonl");
    const r = cli("candles", "--input", gz, "--interval", "1m,5m", "--out", out);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(readFileSync(out, "utf8")).toBe(clean.stdout);
  });

  test("a trades CSV takes its symbol from the file name, else from --symbol", () => {
    const csv = cli("candles", "--input", fixture("BTCUSDT-trades.csv"), "--interval", "1m,5m");
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe(clean.stdout);
    const nameless = join(tmp, "trades.csv");
    copyFileSync(fixture("BTCUSDT-trades.csv"), nameless);
    const refused = cli("candles", "--input", nameless);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--symbol");
    const named = cli("candles", "--input", nameless, "--symbol", "BTCUSDT", "--format", "binance-trades-csv", "--interval", "1m,5m");
    expect(named.stdout).toBe(clean.stdout);
  });

  test("several symbols sort by open time then symbol; --symbol keeps one", () => {
    const r = cli("candles", "--input", fixture("replay.ws.jsonl"), "--interval", "1m,5m");
    expect(r.code).toBe(0);
    expect(new Set(r.rows.map((x) => x.symbol))).toEqual(new Set(["BTCUSDT", "ETHUSDT", "SOLUSDT"]));
    const keys = r.rows.map((x) => [x.interval === "1m" ? 0 : 1, x.openTime as number, x.symbol as string] as const);
    const sorted = [...keys].sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
    expect(keys).toEqual(sorted);
    expect(r.rows.filter((x) => x.interval === "1m").length).toBe(90);
    const eth = cli("candles", "--input", fixture("replay.ws.jsonl"), "--symbol", "ETHUSDT");
    expect(eth.rows.length).toBe(30);
    expect(eth.rows.every((x) => x.symbol === "ETHUSDT")).toBe(true);
  });

  test("bad rows past the first batch of 4,096 are reported with their own line numbers", () => {
    // 10,000 aggTrades rows of two trades each, 100 rows a minute; a zero quantity (rejected by the
    // engine's checks) and a price that is not a number (refused by the decoder) on either
    // side of the batch boundaries.
    const rows = ["agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match"];
    for (let i = 0; i < 10_000; i++) rows.push(`${i + 1},0.0014${i % 10},2.5,${i * 2},${i * 2 + 1},${BASE + i * 600},${i % 2 === 0 ? "True" : "False"},True`);
    const zero = [3, 4097, 4098, 9001];
    const junk = [4096, 8200];
    for (const line of zero) rows[line - 1] = rows[line - 1]!.replace(",2.5,", ",0.00000000,");
    for (const line of junk) rows[line - 1] = rows[line - 1]!.replace(/,0\.0014\d,/, ",abc,");
    const file = join(tmp, "XRPETH-aggTrades-bad.csv");
    writeFileSync(file, rows.join("\n") + "\n");
    const r = cli("candles", "--input", file, "--interval", "1m,1h");
    expect(r.code).toBe(0);
    const reported = r.stderr.trim().split("\n").slice(0, -1);
    expect(reported.map((l) => Number(l.split(":")[0]!.slice(5)))).toEqual([...zero, ...junk].sort((a, b) => a - b));
    for (const line of zero) expect(reported.find((l) => l.startsWith(`line ${line}:`))).toContain("rejected (qty)");
    for (const line of junk) expect(reported.find((l) => l.startsWith(`line ${line}:`))).toContain('"abc"');
    expect(summary(r)).toBe("candles: 10001 lines, 9994 trades, 102 candles, 6 bad lines, 0 late, 0 duplicates, 1 not trades");
    expect(sumTrades(r.rows, "1m")).toBe(9994 * 2);
  });

  test("--symbol leaves out another symbol's rejected trades and still reports its own", () => {
    const lines = readFileSync(fixture("replay.ws.jsonl"), "utf8").trimEnd().split("\n");
    const zeroQty = (symbol: string) => {
      const at = lines.findIndex((l, i) => i > 5 && l.includes(`"s":"${symbol}"`));
      const message = JSON.parse(lines[at]!);
      (message.data ?? message).q = "0";
      lines[at] = JSON.stringify(message);
      return at + 1;
    };
    const eth = zeroQty("ETHUSDT");
    zeroQty("SOLUSDT");
    const file = join(tmp, "filtered.ws.jsonl");
    writeFileSync(file, lines.join("\n") + "\n");
    const r = cli("candles", "--input", file, "--symbol", "ETHUSDT");
    expect(r.code).toBe(0);
    expect(r.stderr.trim().split("\n").slice(0, -1)).toEqual([`line ${eth}: rejected (qty): qty "0" must be > 0`]);
    expect(summary(r)).toContain("1 bad lines");
    expect(r.rows.every((x) => x.symbol === "ETHUSDT")).toBe(true);
  });

  test("bad arguments and unreadable input exit 2 with a clear message", () => {
    const cases: [string[], string][] = [
      [[], "--input <file> is required"],
      [["--input", join(tmp, "missing.jsonl")], "cannot read"],
      [["--input", fixture("clean.ws.jsonl"), "--interval", "7x"], 'interval "7x"'],
      [["--input", fixture("clean.ws.jsonl"), "--format", "xml"], "--format must be one of"],
      [["--input", fixture("clean.ws.jsonl"), "--empty", "zero"], "--empty must be skip or flat"],
      [["--input", fixture("clean.ws.jsonl"), "--bogus"], "--bogus"],
      [["--input", fixture("README.md")], "cannot tell the format"],
      [["--input", fixture("clean.ws.jsonl"), "--out", join(tmp, "no", "such", "dir.jsonl")], "cannot write"],
    ];
    for (const [args, message] of cases) {
      const r = cli("candles", ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe("");
    }
    const truncated = join(tmp, "truncated.gz");
    writeFileSync(truncated, gzipSync(readFileSync(fixture("replay.ws.jsonl"))).subarray(0, 2000));
    expect(cli("candles", "--input", truncated).code).toBe(2);
  });

  test("--help documents the command; the dispatcher lists it and refuses unknown ones", () => {
    const help = cli("candles", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--input <file>");
    const top = cli("--help");
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("candles");
    const unknown = cli("nope");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "nope"');
  });

  test("the fixture generator is seeded: running it again writes the same bytes", () => {
    const out = join(tmp, "fixtures");
    const p = Bun.spawnSync({ cmd: [process.execPath, "run", "scripts/fixtures.ts", "--out", out], cwd: ROOT });
    expect(p.exitCode).toBe(0);
    const names = readdirSync(out).sort();
    expect(names).toEqual(readdirSync(FIXTURES).sort());
    for (const name of names) expect(readFileSync(join(out, name), "utf8")).toBe(readFileSync(fixture(name), "utf8"));
  });
});

describe("candles on recorded exchange data", () => {
  test.skipIf(!hasShared)("btcusdt WebSocket recording: every trade lands, 12 minutes of candles", () => {
    const r = cli("candles", "--input", BTC, "--interval", "1m,5m");
    expect(r.code).toBe(0);
    expect(summary(r)).toBe("candles: 19904 lines, 19904 trades, 16 candles, 0 bad lines, 0 late, 0 duplicates");
    const oneMinute = r.rows.filter((x) => x.interval === "1m");
    expect(oneMinute.length).toBe(12);
    expect(sumTrades(r.rows, "1m")).toBe(19_904);
    expect(sumTrades(r.rows, "5m")).toBe(19_904);
    expect(oneMinute[0]!.openTime).toBe(Date.UTC(2024, 7, 8, 23, 54));
    expect(oneMinute[0]!.open).toBe("61837.63");
  });

  test.skipIf(!hasShared)("XRPETH aggTrades CSV: format and symbol told from the file, one candle per exchange kline", () => {
    const r = cli("candles", "--input", XRP, "--interval", "1m,5m", "--empty", "flat");
    expect(r.code).toBe(0);
    expect(summary(r)).toBe("candles: 12477 lines, 12477 trades, 4272 candles, 0 bad lines, 0 late, 0 duplicates");
    expect(r.rows.every((x) => x.symbol === "XRPETH")).toBe(true);
    expect(r.rows.filter((x) => x.interval === "1m").length).toBe(3_560);
    expect(r.rows.filter((x) => x.interval === "5m").length).toBe(712);
    expect(sumTrades(r.rows, "1m")).toBe(14_672);
  });

  test.skipIf(!hasShared)("the XRPETH file with CRLF line ends, a byte-order mark and a header, gzipped or not, gives the same candles", () => {
    const plain = cli("candles", "--input", XRP, "--interval", "1m,5m", "--empty", "flat");
    const header = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match";
    // Over 1 MB: read in many chunks, rows cut at their boundaries.
    const crlf = "\uFEFF" + [header, ...readFileSync(XRP, "utf8").trimEnd().split("\n")].join("\r\n") + "\r\n";
    const file = join(tmp, "XRPETH-aggTrades-crlf.csv");
    writeFileSync(file, crlf);
    writeFileSync(`${file}.gz`, gzipSync(crlf));
    for (const input of [file, `${file}.gz`]) {
      const r = cli("candles", "--input", input, "--interval", "1m,5m", "--empty", "flat");
      expect(r.code).toBe(0);
      expect(summary(r)).toBe("candles: 12478 lines, 12477 trades, 4272 candles, 0 bad lines, 0 late, 0 duplicates, 1 not trades");
      expect(r.stdout).toBe(plain.stdout);
    }
  });
});

/**
 * `bun run scripts/bench/stack.ts [--trades N] [--symbols N] [--clients N] [--rate N]`: the
 * local stack end to end, with real processes, on this machine's Kafka, PostgreSQL and Redis
 * (KAFKA_BROKERS, DATABASE_URL, REDIS_URL, or the usual local ports).
 *
 * 1. Catch-up throughput: N generated trades are put in a fresh topic first; then one
 *    processor (`serve --roles process`), and in a second round two in one group, read them
 *    into PostgreSQL + Redis. Trades/s = trades committed from the first commit until every
 *    partition's checkpoint holds the end of its input, ÷ that time.
 * 2. Live latency: trades appended at `--rate`/s with their wall-clock time as trade time;
 *    one processor, one API process (`--roles api`) with `--clients` WebSocket clients on
 *    BTCUSDT 1m. Latency = receive time − newest trade time in the received candle frame.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { kafkaLog } from "../../src/server/adapters/kafka.ts";
import { postgresStore } from "../../src/server/adapters/postgres.ts";
import { checkpointKey, decodeResume } from "../../src/server/pipeline/resume.ts";
import { servers } from "../../src/server/testing/servers.ts";
import { killAll, serve, type Served } from "../../src/server/testing/spawn.ts";
import { market } from "./generate.ts";

const { values } = parseArgs({
  options: {
    trades: { type: "string", default: "1000000" },
    symbols: { type: "string", default: "20" },
    partitions: { type: "string", default: "4" },
    clients: { type: "string", default: "1000" },
    rate: { type: "string", default: "20000" },
    seconds: { type: "string", default: "15" },
  },
});
const N = Number(values.trades);
const PARTITIONS = Number(values.partitions);
const made: { topic: string; schema: string }[] = [];

function names(tag: string) {
  const id = `${tag}${Date.now().toString(36)}`;
  const n = { topic: `candleflow.bench.${id}`, schema: `bench_${id}`, group: `bench-${id}`, prefix: `bench:${id}:` };
  made.push(n);
  return n;
}

const args = (n: ReturnType<typeof names>, roles: string, extra: string[] = []) => [
  "--roles", roles, "--log", "kafka", "--store", "postgres", "--cache", "redis",
  "--kafka-brokers", servers.kafka, "--database-url", servers.postgres, "--redis-url", servers.redis,
  "--topic", n.topic, "--partitions", String(PARTITIONS), "--group", n.group, "--pg-schema", n.schema, "--redis-prefix", n.prefix,
  "--commit-trades", "5000", "--commit-ms", "250", ...extra,
];

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

async function catchUp(processors: number): Promise<{ tradesPerSecond: number; ms: number; commits: { p50: number; p99: number }[]; cores: number[] }> {
  const n = names(`p${processors}`);
  const { trades } = market({ symbols: Number(values.symbols), trades: N, seed: 42 });
  const log = kafkaLog({ brokers: servers.kafka, topic: n.topic, partitions: PARTITIONS });
  for (let i = 0; i < trades.length; i += 20_000) await log.append(trades.slice(i, i + 20_000));
  const highs = await Promise.all([...Array(PARTITIONS).keys()].map((p) => log.highWatermark(p)));
  const store = postgresStore({ url: servers.postgres, schema: n.schema });
  const procs: Served[] = [];
  for (let i = 0; i < processors; i++) procs.push(await serve(args(n, "process")));
  // Timed from the first commit on: process start-up and the group's first join are not throughput.
  const launched = performance.now();
  let started: number | undefined;
  let cpuAtStart: number[] = [];
  let consumed = 0;
  for (;;) {
    const at = await Promise.all([...Array(PARTITIONS).keys()].map(async (p) => {
      const cp = await store.loadCheckpoint(checkpointKey(n.group, p)).catch(() => undefined);
      return cp ? decodeResume(p, cp.offsets)!.next : 0;
    }));
    const sum = at.reduce((x, y) => x + y, 0);
    if (started === undefined && sum > 0) {
      [started, consumed] = [performance.now(), sum];
      cpuAtStart = procs.map((p) => cpuSeconds(p.child.pid));
    }
    if (at.every((next, p) => next >= highs[p]!)) break;
    if (performance.now() - launched > 300_000) throw new Error("processors did not catch up within 5 minutes");
    await Bun.sleep(20);
  }
  const ms = performance.now() - started!;
  const cores = procs.map((p, i) => (cpuSeconds(p.child.pid) - cpuAtStart[i]!) / (ms / 1000));
  const commits = await Promise.all(procs.map(async (p) => {
    const text = await (await fetch(new URL("/api/v1/metrics", p.url))).text();
    const q = (quantile: string) => 1000 * Number(new RegExp(`candleflow_commit_seconds\\{quantile="${quantile}"\\} (\\S+)`).exec(text)?.[1]);
    return { p50: q("0.5"), p99: q("0.99") };
  }));
  for (const p of procs) await p.stop();
  await store.close();
  await log.close();
  return { tradesPerSecond: ((N - consumed) / ms) * 1000, ms, commits, cores };
}

async function live(): Promise<{ p50: number; p99: number; frames: number; appended: number }> {
  const n = names("live");
  const processor = await serve(args(n, "process", ["--commit-ms", "100"]));
  const api = await serve(args(n, "api"));
  const log = kafkaLog({ brokers: servers.kafka, topic: n.topic, partitions: PARTITIONS });
  const rate = Number(values.rate);
  let id = 1;
  // When each BTCUSDT 1m candle reached each trade count: a frame showing that count was caused by that append.
  const counts = new Map<number, number>();
  const sentAt = new Map<string, number>();
  const tick = async () => {
    const now = Date.now();
    const batch = Array.from({ length: Math.max(1, Math.round(rate / 50)) }, (_, i) => ({
      symbol: i % 4 === 0 ? "BTCUSDT" : `SYM${i % 16}USDT`, id: id++, price: "61000.5", qty: "0.01", ts: now, side: "buy" as const,
    }));
    const window = Math.floor(now / 60_000) * 60_000;
    const count = (counts.get(window) ?? 0) + batch.filter((t) => t.symbol === "BTCUSDT").length;
    counts.set(window, count);
    sentAt.set(`${window}:${count}`, now);
    await log.append(batch);
    return batch.length;
  };
  await tick();
  for (let i = 0; i < 100; i++) {
    const res = await fetch(new URL("/api/v1/symbols", api.url)).catch(() => undefined);
    if (res?.ok && ((await res.json()) as { symbols: string[] }).symbols.includes("BTCUSDT")) break;
    await tick();
    await Bun.sleep(100);
  }
  const latencies: number[] = [];
  let measuring = false;
  let received = 0;
  // Every client receives; one in twenty also times its frames, so parsing them does not
  // become the bench process's own queue (the clients share the machine with the servers).
  const sockets = Array.from({ length: Number(values.clients) }, (_, i) => {
    const ws = new WebSocket(new URL("/ws", api.url.href.replace(/^http/, "ws")));
    ws.onopen = () => ws.send(JSON.stringify({ op: "subscribe", symbols: ["BTCUSDT"], intervals: ["1m"] }));
    ws.onmessage = (m) => {
      if (!measuring) return;
      received++;
      if (i % 20 !== 0) return;
      const text = String(m.data);
      if (!text.startsWith('{"type":"candle"')) return;
      const { candle } = JSON.parse(text) as { candle: { openTime: number; trades: number } };
      const at = sentAt.get(`${candle.openTime}:${candle.trades}`);
      if (at !== undefined) latencies.push(Date.now() - at);
    };
    return ws;
  });
  let appended = 0;
  await Bun.sleep(2000);
  measuring = true;
  const until = Date.now() + Number(values.seconds) * 1000;
  while (Date.now() < until) {
    const started = Date.now();
    appended += await tick();
    await Bun.sleep(Math.max(0, 20 - (Date.now() - started)));
  }
  measuring = false;
  for (const ws of sockets) ws.close();
  await api.stop();
  await processor.stop();
  await log.close();
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), frames: received, appended };
}

try {
  const one = await catchUp(1);
  const commitTimes = (r: typeof one) =>
    r.commits.map((c, i) => `p50 ${c.p50.toFixed(1)} ms, p99 ${c.p99.toFixed(1)} ms, ${r.cores[i]!.toFixed(2)} cores busy`).join("; ");
  console.log(`catch-up, 1 processor:  ${Math.round(one.tradesPerSecond).toLocaleString("en-US")} trades/s (${N} trades, ${(one.ms / 1000).toFixed(1)} s from the first commit); commits ${commitTimes(one)}`);
  const two = await catchUp(2);
  console.log(`catch-up, 2 processors: ${Math.round(two.tradesPerSecond).toLocaleString("en-US")} trades/s (${(two.tradesPerSecond / one.tradesPerSecond).toFixed(2)}× one); commits ${commitTimes(two)}`);
  const l = await live();
  console.log(`live, ${values.clients} WebSocket clients, ${values.rate} trades/s: trade-to-client p50 ${l.p50} ms, p99 ${l.p99} ms (${l.frames} frames, ${l.appended} trades)`);
} finally {
  await killAll();
  const sql = postgres(servers.postgres, { max: 1, onnotice: () => {} });
  for (const n of made) await sql.unsafe(`DROP SCHEMA IF EXISTS ${n.schema} CASCADE`);
  await sql.end();
}

import { describe, expect, test } from "bun:test";
import { DEFAULT_RULES, loadConfig, type Config } from "./config.ts";

const ok = (argv: string[], env: Record<string, string> = {}): Config => {
  const loaded = loadConfig(argv, env);
  if (!loaded.ok) throw new Error(`expected a config, got ${JSON.stringify(loaded)}`);
  return loaded.config;
};

const errors = (argv: string[], env: Record<string, string> = {}): string[] => {
  const loaded = loadConfig(argv, env);
  if (loaded.ok || loaded.help) throw new Error(`expected errors, got ${JSON.stringify(loaded)}`);
  return loaded.errors;
};

describe("loadConfig", () => {
  test("embedded defaults need no flag and no variable", () => {
    expect(ok([])).toEqual({
      port: 3000, host: "127.0.0.1", source: "replay", speed: 1, loop: true, db: "data/candleflow.sqlite",
      intervals: ["1m", "5m", "15m", "1h"], commitTrades: 5000, commitMs: 1000, heartbeatMs: 15000, history: 300,
      rules: DEFAULT_RULES, maxFutureMs: 60000, roles: ["ingest", "process", "api"], log: "memory", cache: "memory", store: "sqlite",
      kafkaBrokers: "127.0.0.1:9092", topic: "candleflow.trades", partitions: 3, group: "candleflow", kafkaSessionMs: 10000,
      redisUrl: "redis://127.0.0.1:6379", redisPrefix: "candleflow:", databaseUrl: "postgres://postgres@127.0.0.1:5432/test", pgSchema: "public",
    });
  });

  test("each port of the local stack is switched on by its server's variable, or by its flag", () => {
    const env = { KAFKA_BROKERS: "127.0.0.1:9092", REDIS_URL: "redis://127.0.0.1:6379/2", DATABASE_URL: "postgres://u@db:5432/candles" };
    expect(ok([], env)).toMatchObject({ log: "kafka", cache: "redis", store: "postgres", redisUrl: env.REDIS_URL, databaseUrl: env.DATABASE_URL });
    expect(ok(["--log", "memory", "--store", "sqlite"], env)).toMatchObject({ log: "memory", cache: "redis", store: "sqlite" });
    expect(ok(["--log", "kafka", "--roles", "process"])).toMatchObject({ log: "kafka", roles: ["process"] });
    expect(loadConfig(["--roles", "ingest,api"], {})).toMatchObject({ ok: false, errors: [expect.stringContaining("in-process log needs ingest and process")] });
    expect(loadConfig(["--log", "kafka", "--kafka-brokers", "nohost"], {})).toMatchObject({ ok: false, errors: [expect.stringContaining("--kafka-brokers")] });
  });

  test("variables override defaults and flags override variables", () => {
    const env = { PORT: "8080", CANDLEFLOW_SPEED: "10", CANDLEFLOW_SYMBOLS: "BTCUSDT, ETHUSDT", CANDLEFLOW_SOURCE: "binance" };
    const c = ok(["--port", "0", "--intervals", "1m,5m,1m"], env);
    expect(c.port).toBe(0);
    expect(c.speed).toBe(10);
    expect(c.symbols).toEqual(["BTCUSDT", "ETHUSDT"]);
    expect(c.source).toBe("binance");
    expect(c.intervals).toEqual(["1m", "5m"]);
  });

  test("--no-loop and CANDLEFLOW_LOOP=false turn looping off", () => {
    expect(ok(["--no-loop"]).loop).toBe(false);
    expect(ok([], { CANDLEFLOW_LOOP: "false" }).loop).toBe(false);
    expect(ok(["--loop"], { CANDLEFLOW_LOOP: "false" }).loop).toBe(true);
  });

  test("rules come as JSON", () => {
    expect(ok(["--rules", '{"default":{"whale":{"notional":1000}}}']).rules).toEqual({ default: { whale: { notional: 1000 } } });
  });

  test("a bad value names the flag or the variable it came from", () => {
    expect(errors(["--port", "http"])).toEqual([expect.stringContaining("--port \"http\"")]);
    expect(errors([], { CANDLEFLOW_SPEED: "fast" })[0]).toStartWith("CANDLEFLOW_SPEED \"fast\"");
    expect(errors([], { CANDLEFLOW_SOURCE: "kraken" })[0]).toStartWith("CANDLEFLOW_SOURCE");
    expect(errors(["--intervals", "1m,7x"])[0]).toContain("1m, 5m, 1h");
    expect(errors(["--speed=-1"])[0]).toStartWith("--speed");
    expect(errors(["--rules", "{nope"])[0]).toStartWith("--rules");
    expect(errors(["--file", "no/such.jsonl"])[0]).toBe('--file "no/such.jsonl": no such file');
    expect(errors(["--rules", '{"default":{"whales":{}}}'])[0]).toStartWith("--rules");
    expect(errors([], { PORT: "70000", CANDLEFLOW_COMMIT_MS: "0" })).toHaveLength(2);
  });

  test("unknown flags and --help are reported, not ignored", () => {
    expect(errors(["--prot", "1"])[0]).toContain("--prot");
    expect(loadConfig(["--help"], {})).toEqual({ ok: false, help: true });
  });
});

/**
 * Which source a configuration asks for, and where it resumes: the one place that turns
 * `--source` into a running `Source`.
 */
import type { Config } from "../config.ts";
import { binanceSource } from "./binance.ts";
import { coinbaseSource } from "./coinbase.ts";
import { coingeckoSource } from "./coingecko.ts";
import { replaySource } from "./replay.ts";
import type { Source } from "./types.ts";
import type { SourceResume } from "../pipeline/resume.ts";

const DEFAULT_SYMBOLS = { binance: ["BTCUSDT", "ETHUSDT"], coinbase: ["BTC-USD", "ETH-USD"], coingecko: ["bitcoin", "ethereum"] };

/**
 * The configured source, resuming after `after` (each symbol's last committed trade id)
 * when the checkpoint was written by the same kind of source.
 */
export function makeSource(config: Config, resume: SourceResume, after: Record<string, number>): Source {
  const same = resume.source === config.source && Object.keys(after).length > 0;
  if (config.source === "replay") {
    // Looping: history up to now at once, then paced; once through: paced from now. A restart
    // keeps the first run's time shift and continues after the last committed trade.
    return replaySource({
      file: config.file, speed: config.speed, loop: config.loop, anchor: config.loop ? "end" : "start",
      // Read here, not in the replay: its clock is the pacing one, which a test may move.
      notAfter: Date.now() + config.maxFutureMs,
      ...(same && resume.replayBase !== undefined ? { base: resume.replayBase, resumeAfter: after } : {}),
    });
  }
  const symbols = config.symbols ?? DEFAULT_SYMBOLS[config.source];
  if (config.source === "binance") return binanceSource({ symbols, ...(same ? { resumeAfter: after } : {}) });
  if (config.source === "coinbase") return coinbaseSource({ products: symbols });
  return coingeckoSource({ ids: symbols });
}

/** Driver state to commit with checkpoints: the source's name and a replay's time shift. */
export function sourceState(source: Source): SourceResume {
  const replayBase = "base" in source && typeof source.base === "function" ? (source.base() as number | undefined) : undefined;
  return { source: source.name, ...(replayBase !== undefined ? { replayBase } : {}) };
}

/** Symbols the configuration names, as the engine will see them (empty: every symbol of a replay). */
export function configuredSymbols(config: Config): string[] {
  if (config.source === "replay") return config.symbols?.map((s) => s.toUpperCase()) ?? [];
  const symbols = config.symbols ?? DEFAULT_SYMBOLS[config.source];
  return config.source === "coingecko" ? symbols.map((id) => `${id}-usd`.toUpperCase()) : symbols.map((s) => s.toUpperCase());
}

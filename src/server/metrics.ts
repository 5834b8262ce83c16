/**
 * Prometheus text exposition (format 0.0.4) of the server's counters and gauges. The values
 * are gathered by the composition; this file only knows the names and the format.
 */

/** Content type of {@link exposition}'s output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** One reading of every metric. Counters count since the process started unless said otherwise. */
export interface MetricsSample {
  /** Trades aggregated (engine counter: carried through checkpoints). */
  trades: number;
  /** Trades that failed validation (engine counter). */
  rejected: number;
  /** Late (trade, window) pairs (engine counter). */
  late: number;
  /** Duplicate trades dropped (engine counter). */
  duplicates: number;
  /** Alerts raised (engine counter). */
  alerts: number;
  /** Candle events published, by kind. */
  candles: { update: number; final: number; revision: number };
  /** Open WebSocket connections. */
  wsClients: number;
  /** Bytes queued for WebSocket clients now. */
  wsBuffered: number;
  /** Invalid frames received from WebSocket clients. */
  wsBadMessages: number;
  /** Clients switched to conflation because they read too slowly. */
  wsConflated: number;
  /** Clients closed because they stayed too slow (1013) or kept sending invalid frames (1008). */
  wsClosed: { slow: number; abusive: number };
  /** Log records not yet processed. */
  lagRecords: number;
  /** Seconds since the last checkpoint commit; NaN before the first. */
  checkpointAgeSeconds: number;
  /** Checkpoint commits. */
  commits: number;
  /** Median and 99th percentile of recent checkpoint commits, ms. */
  commitMs?: { p50: number; p99: number };
  /** Inputs refused and sent to the dead letters (undecodable records, invalid trades). */
  deadLetters?: number;
  /** Source input that could not be decoded (e.g. malformed lines of a replayed file), or was refused as dated far in the future. */
  sourceErrors?: number;
  /** Trades of a live feed refused because they were dated too far ahead of the wall clock. */
  futureTrades?: number;
  /** Per dependency: 1 when its health is ok, 0 when not. */
  up?: Record<string, boolean>;
}

type Row = [labels: Record<string, string>, value: number];

function family(name: string, type: "counter" | "gauge", help: string, rows: Row[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of rows) {
    const entries = Object.entries(labels);
    const set = entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`))}"`).join(",")}}`;
    lines.push(`${name}${set} ${Number.isNaN(value) ? "NaN" : value === Infinity ? "+Inf" : value === -Infinity ? "-Inf" : String(value)}`);
  }
  return lines.join("\n");
}

/**
 * Renders a sample as Prometheus text.
 *
 * @example
 * new Response(exposition(sample), { headers: { "content-type": METRICS_CONTENT_TYPE } })
 */
export function exposition(s: MetricsSample): string {
  const one = (value: number): Row[] => [[{}, value]];
  return [
    family("candleflow_trades_total", "counter", "Trades aggregated into candles.", one(s.trades)),
    family("candleflow_rejected_total", "counter", "Trades rejected by validation.", one(s.rejected)),
    family("candleflow_late_total", "counter", "Trades too late for a window, per interval that refused them.", one(s.late)),
    family("candleflow_duplicates_total", "counter", "Duplicate trades dropped by id.", one(s.duplicates)),
    family("candleflow_alerts_total", "counter", "Alerts raised.", one(s.alerts)),
    family("candleflow_candles_total", "counter", "Candle events published, by kind.",
      (["update", "final", "revision"] as const).map((kind) => [{ kind }, s.candles[kind]])),
    family("candleflow_ws_clients", "gauge", "Open WebSocket connections.", one(s.wsClients)),
    family("candleflow_ws_buffered_bytes", "gauge", "Bytes queued for WebSocket clients.", one(s.wsBuffered)),
    family("candleflow_ws_bad_messages_total", "counter", "Invalid frames received from WebSocket clients.", one(s.wsBadMessages)),
    family("candleflow_ws_conflated_total", "counter", "Times a slow WebSocket client was switched to conflated updates.", one(s.wsConflated)),
    family("candleflow_ws_closed_total", "counter", "WebSocket clients closed by the server, by reason.",
      [[{ reason: "slow" }, s.wsClosed.slow], [{ reason: "abusive" }, s.wsClosed.abusive]]),
    family("candleflow_lag_records", "gauge", "Log records not yet processed.", one(s.lagRecords)),
    family("candleflow_checkpoint_age_seconds", "gauge", "Seconds since the last checkpoint commit.", one(s.checkpointAgeSeconds)),
    family("candleflow_commits_total", "counter", "Checkpoint commits.", one(s.commits)),
    ...(s.commitMs ? [family("candleflow_commit_seconds", "gauge", "Wall time of recent checkpoint commits, by quantile.",
      [[{ quantile: "0.5" }, s.commitMs.p50 / 1000], [{ quantile: "0.99" }, s.commitMs.p99 / 1000]])] : []),
    family("candleflow_dead_letters_total", "counter", "Inputs refused and sent to the dead letters.", one(s.deadLetters ?? 0)),
    family("candleflow_source_errors_total", "counter", "Source input that could not be decoded or was dated far in the future.", one(s.sourceErrors ?? 0)),
    family("candleflow_future_trades_total", "counter", "Live trades refused for being dated too far ahead of the wall clock.", one(s.futureTrades ?? 0)),
    ...(s.up ? [family("candleflow_up", "gauge", "1 when the dependency is healthy.",
      Object.entries(s.up).map(([dependency, ok]) => [{ dependency }, ok ? 1 : 0]))] : []),
  ].join("\n") + "\n";
}

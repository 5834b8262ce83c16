/**
 * A local fake of Binance spot for tests: the combined-stream WebSocket
 * (`/stream?streams=btcusdt@trade/...`, also `@aggTrade`) and the REST endpoints
 * `GET /api/v3/historicalTrades` and `GET /api/v3/aggTrades`, over a recorded stream.
 *
 * The test drives the market: `emit(n)` makes the next n recorded trades happen (sent to
 * connected subscribers, and visible to REST from then on). `down()` cuts every connection
 * and refuses new ones, so trades emitted meanwhile reach clients only through REST.
 */
import type { Server, ServerWebSocket } from "bun";

/** One recorded `trade` event, as in the `data` of a combined-stream message. */
export interface RawTrade {
  e: "trade";
  E: number;
  s: string;
  t: number;
  p: string;
  q: string;
  T: number;
  m: boolean;
  M: boolean;
}

/** Controls of a running fake. */
export interface FakeBinance {
  /** WebSocket base URL to give the source, e.g. `ws://127.0.0.1:PORT`. */
  readonly wsUrl: string;
  /** REST base URL to give the source. */
  readonly restUrl: string;
  /** Trades that have happened so far. */
  readonly produced: number;
  /** Every recorded trade, in order. */
  readonly trades: readonly RawTrade[];
  /** Makes the next `n` trades happen; returns how many did (fewer at the end of the recording). */
  emit(n: number): number;
  /** Closes every client connection now (clients may reconnect at once). */
  drop(): void;
  /** Closes every connection and refuses new ones until `up()`. */
  down(): void;
  /** Accepts connections again. */
  up(): void;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  /** Resolves once `accepted` reaches `n` (rejects after `timeoutMs`). */
  waitAccepted(n: number, timeoutMs?: number): Promise<void>;
  /** Sends a ping frame with `payload` to every open connection. */
  ping(payload: string): void;
  /** Payloads of the pongs received. */
  readonly pongs: string[];
  /** REST request paths with query, in order. */
  readonly requests: string[];
  /** Stops the server and closes every connection. */
  close(): Promise<void>;
}

interface Client {
  streams: Set<string>;
}

/** Parses recorded combined-stream lines into trades (other lines are skipped). */
export function parseLines(lines: Iterable<string>): RawTrade[] {
  const out: RawTrade[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    const msg = JSON.parse(line) as { data?: RawTrade } & Partial<RawTrade>;
    const data = msg.data ?? (msg as RawTrade);
    if (data.e === "trade") out.push(data);
  }
  return out;
}

/**
 * A made-up but well-formed stream: `n` trades of `symbol` with contiguous ids from
 * `firstId`, about 30 ms apart, prices wandering by cents. For when no recording is at hand.
 */
export function generateTrades(n: number, symbol = "BTCUSDT", firstId = 1_000_000, firstTs = 1_723_161_255_342): RawTrade[] {
  const out: RawTrade[] = [];
  let cents = 6_183_763;
  for (let i = 0; i < n; i++) {
    cents += ((i * 7919) % 11) - 5;
    const ts = firstTs + i * 30 + (i % 3);
    const price = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}000000`;
    const qty = `0.${String(((i * 104729) % 99_999) + 1).padStart(5, "0")}000`;
    out.push({ e: "trade", E: ts + 1, s: symbol, t: firstId + i, p: price, q: qty, T: ts, m: i % 2 === 0, M: true });
  }
  return out;
}

/** The combined-stream message for `t` on a `trade` or `aggTrade` stream. */
function message(t: RawTrade, kind: string): string {
  const stream = `${t.s.toLowerCase()}@${kind}`;
  if (kind === "trade") return JSON.stringify({ stream, data: t });
  const data = { e: "aggTrade", E: t.E, s: t.s, a: t.t, p: t.p, q: t.q, f: t.t, l: t.t, T: t.T, m: t.m, M: t.M };
  return JSON.stringify({ stream, data });
}

/** Starts a fake on 127.0.0.1 at a free port, serving `trades` (several symbols may be mixed). */
export function fakeBinance(trades: RawTrade[]): FakeBinance {
  const clients = new Set<ServerWebSocket<Client>>();
  const pongs: string[] = [];
  const requests: string[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let produced = 0;
  let refusing = false;
  let accepted = 0;

  const happened = (symbol: string) => trades.slice(0, produced).filter((t) => t.s === symbol);

  const rest = (url: URL): Response => {
    requests.push(url.pathname + url.search);
    const symbol = url.searchParams.get("symbol") ?? "";
    const limit = Number(url.searchParams.get("limit") ?? 500);
    const fromId = url.searchParams.get("fromId");
    if (!trades.some((t) => t.s === symbol)) return Response.json({ code: -1121, msg: "Invalid symbol." }, { status: 400 });
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return Response.json({ code: -1100, msg: "Illegal characters found in parameter 'limit'." }, { status: 400 });
    const all = happened(symbol);
    const rows = fromId === null ? all.slice(-limit) : all.filter((t) => t.t >= Number(fromId)).slice(0, limit);
    if (url.pathname.endsWith("/historicalTrades")) {
      return Response.json(rows.map((t) => ({ id: t.t, price: t.p, qty: t.q, quoteQty: "0", time: t.T, isBuyerMaker: t.m, isBestMatch: t.M })));
    }
    return Response.json(rows.map((t) => ({ a: t.t, p: t.p, q: t.q, f: t.t, l: t.t, T: t.T, m: t.m, M: t.M })));
  };

  const server: Server<Client> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname === "/stream") {
        if (refusing) return new Response("unavailable", { status: 503 });
        const streams = new Set((url.searchParams.get("streams") ?? "").split("/").filter(Boolean));
        if (srv.upgrade(req, { data: { streams } })) return undefined;
        return new Response("expected a WebSocket upgrade", { status: 400 });
      }
      if (url.pathname === "/api/v3/historicalTrades" || url.pathname === "/api/v3/aggTrades") return rest(url);
      return new Response("not found", { status: 404 });
    },
    websocket: {
      data: {} as Client,
      open(ws) {
        clients.add(ws);
        accepted++;
        for (const w of waiters.filter((x) => accepted >= x.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      },
      message() {},
      close(ws) {
        clients.delete(ws);
      },
      pong(_ws, data) {
        pongs.push(data.toString());
      },
    },
  });

  const base = `127.0.0.1:${server.port}`;
  const dropAll = () => {
    for (const ws of clients) ws.close(1001, "going away");
    clients.clear();
  };

  return {
    wsUrl: `ws://${base}`,
    restUrl: `http://${base}`,
    get produced() {
      return produced;
    },
    trades,
    emit(n) {
      const from = produced;
      produced = Math.min(trades.length, produced + n);
      for (const t of trades.slice(from, produced)) {
        for (const ws of clients) {
          for (const kind of ["trade", "aggTrade"]) if (ws.data.streams.has(`${t.s.toLowerCase()}@${kind}`)) ws.send(message(t, kind));
        }
      }
      return produced - from;
    },
    drop: dropAll,
    down() {
      refusing = true;
      dropAll();
    },
    up() {
      refusing = false;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return clients.size;
    },
    waitAccepted(n, timeoutMs = 5000) {
      if (accepted >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fake binance: ${accepted} connections, wanted ${n}`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    ping(payload) {
      for (const ws of clients) ws.ping(payload);
    },
    pongs,
    requests,
    async close() {
      dropAll();
      await server.stop(true);
    },
  };
}

/**
 * A local fake of Coinbase Exchange for tests: the WebSocket feed (`subscribe` to
 * `matches`, answered with `subscriptions`, a `last_match`, then live `match` messages)
 * and `GET /products/<id>/trades` (newest first, `after` cursor, `CB-AFTER` header).
 *
 * Like the real feed, `sequence` jumps between consecutive matches (other order events
 * take numbers too), while `trade_id` counts up by one.
 */
import type { Server, ServerWebSocket } from "bun";

/** One match as Coinbase sends it (`side` is the maker's side). */
export interface RawMatch {
  type: "match";
  trade_id: number;
  maker_order_id: string;
  taker_order_id: string;
  side: "buy" | "sell";
  size: string;
  price: string;
  product_id: string;
  sequence: number;
  time: string;
}

/** Controls of a running fake. */
export interface FakeCoinbase {
  readonly wsUrl: string;
  readonly restUrl: string;
  /** Every match that has happened, in order. */
  readonly history: readonly RawMatch[];
  /** The next `n` matches happen and go to subscribers. */
  emit(n: number): void;
  /** The next `n` matches happen but are not sent (a feed that dropped messages). */
  skip(n: number): void;
  /** Sends the last `n` matches again (stale sequence numbers). */
  repeat(n: number): void;
  /** Closes every connection now. */
  drop(): void;
  /** Subscribe messages received, in order. */
  readonly subscribes: { product_ids: string[]; channels: string[] }[];
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts a fake on 127.0.0.1 at a free port, trading `product` from trade id `firstId`. */
export function fakeCoinbase(product = "BTC-USD", firstId = 700_000_000): FakeCoinbase {
  const subscribed = new Set<ServerWebSocket<unknown>>();
  const all = new Set<ServerWebSocket<unknown>>();
  const history: RawMatch[] = [];
  const subscribes: { product_ids: string[]; channels: string[] }[] = [];
  let accepted = 0;
  let sequence = 80_000_000_000;

  const make = (): RawMatch => {
    const i = history.length;
    sequence += 1 + (i % 5);
    const cents = 5_900_000 + ((i * 37) % 400);
    const us = String(123_456 + i).padStart(6, "0").slice(-6);
    const match: RawMatch = {
      type: "match",
      trade_id: firstId + i,
      maker_order_id: `m-${i}`,
      taker_order_id: `t-${i}`,
      side: i % 3 === 0 ? "buy" : "sell",
      size: `0.${String((i % 997) + 1).padStart(8, "0")}`,
      price: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`,
      product_id: product,
      sequence,
      time: new Date(Date.UTC(2024, 7, 9, 0, 0, 0) + i * 250).toISOString().replace(/\.\d+Z$/, `.${us}Z`),
    };
    history.push(match);
    return match;
  };
  const send = (m: RawMatch) => {
    for (const ws of subscribed) ws.send(JSON.stringify(m));
  };

  const trades = (url: URL): Response => {
    const id = decodeURIComponent(url.pathname.split("/")[2] ?? "");
    if (id !== product) return Response.json({ message: "NotFound" }, { status: 404 });
    const limit = Number(url.searchParams.get("limit") ?? 1000);
    const after = url.searchParams.get("after");
    const older = after === null ? history : history.filter((m) => m.trade_id < Number(after));
    const rows = older.slice(-limit).reverse();
    const headers = rows.length ? { "cb-after": String(rows[rows.length - 1]!.trade_id), "cb-before": String(rows[0]!.trade_id) } : undefined;
    return Response.json(
      rows.map((m) => ({ time: m.time, trade_id: m.trade_id, price: m.price, size: m.size, side: m.side })),
      { headers },
    );
  };

  const server: Server<unknown> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname === "/") return srv.upgrade(req, { data: undefined }) ? undefined : new Response("upgrade expected", { status: 400 });
      if (/^\/products\/[^/]+\/trades$/.test(url.pathname)) return trades(url);
      return new Response("not found", { status: 404 });
    },
    websocket: {
      open(ws) {
        all.add(ws);
        accepted++;
      },
      message(ws, raw) {
        const msg = JSON.parse(String(raw)) as { type: string; product_ids: string[]; channels: string[] };
        if (msg.type !== "subscribe") return;
        subscribes.push({ product_ids: msg.product_ids, channels: msg.channels });
        if (!msg.product_ids.includes(product)) {
          ws.send(JSON.stringify({ type: "error", message: "Failed to subscribe", reason: `${msg.product_ids} is not a valid product` }));
          return;
        }
        ws.send(JSON.stringify({ type: "subscriptions", channels: msg.channels.map((name) => ({ name, product_ids: [product] })) }));
        const last = history[history.length - 1];
        if (last) ws.send(JSON.stringify({ ...last, type: "last_match" }));
        subscribed.add(ws);
      },
      close(ws) {
        all.delete(ws);
        subscribed.delete(ws);
      },
    },
  });

  const base = `127.0.0.1:${server.port}`;
  return {
    wsUrl: `ws://${base}/`,
    restUrl: `http://${base}`,
    history,
    emit(n) {
      for (let i = 0; i < n; i++) send(make());
    },
    skip(n) {
      for (let i = 0; i < n; i++) make();
    },
    repeat(n) {
      for (const m of history.slice(-n)) send(m);
    },
    drop() {
      for (const ws of all) ws.close(1001, "going away");
    },
    subscribes,
    get accepted() {
      return accepted;
    },
    async close() {
      for (const ws of all) ws.close(1001, "shutdown");
      await server.stop(true);
    },
  };
}

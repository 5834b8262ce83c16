/** A local fake of CoinGecko's `GET /api/v3/simple/price` for tests. */
import type { Server } from "bun";

/** Controls of a running fake. */
export interface FakeCoingecko {
  /** Base URL to give the source. */
  readonly url: string;
  /** Sets the price a coin has, and when CoinGecko last updated it (epoch seconds). */
  set(id: string, vs: string, price: number, updatedAt: number): void;
  /** Answers the next request with this HTTP status (and Retry-After seconds, if given). */
  failNext(status: number, retryAfter?: number): void;
  /** Request URLs received (path and query). */
  readonly requests: string[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts a fake on 127.0.0.1 at a free port. */
export function fakeCoingecko(): FakeCoingecko {
  const prices = new Map<string, Record<string, number>>();
  const requests: string[] = [];
  let failure: { status: number; retryAfter?: number } | undefined;
  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      requests.push(url.pathname + url.search);
      if (url.pathname !== "/api/v3/simple/price") return new Response("not found", { status: 404 });
      if (failure) {
        const { status, retryAfter } = failure;
        failure = undefined;
        return Response.json({ status: { error_code: status, error_message: "try later" } }, { status, headers: retryAfter ? { "retry-after": String(retryAfter) } : undefined });
      }
      const ids = (url.searchParams.get("ids") ?? "").split(",");
      const vs = (url.searchParams.get("vs_currencies") ?? "").split(",");
      const withTime = url.searchParams.get("include_last_updated_at") === "true";
      const body: Record<string, Record<string, number>> = {};
      for (const id of ids) {
        const known = prices.get(id);
        if (!known) continue;
        body[id] = {};
        for (const v of vs) if (known[v] !== undefined) body[id]![v] = known[v]!;
        if (withTime) body[id]!.last_updated_at = known.last_updated_at!;
      }
      return Response.json(body);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    set(id, vs, price, updatedAt) {
      prices.set(id, { ...prices.get(id), [vs]: price, last_updated_at: updatedAt });
    },
    failNext(status, retryAfter) {
      failure = { status, retryAfter };
    },
    requests,
    close: () => server.stop(true),
  };
}

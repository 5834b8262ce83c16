/**
 * A hostile WebSocket client for load tests, run as its own process so its busy loop does not
 * slow the measuring one: for `seconds`, sends valid subscribe/unsubscribe frames naming every
 * symbol × interval of the hello as fast as the socket takes them, reconnecting whenever the
 * server closes it. Prints a JSON summary of what it sent and got.
 *
 * usage: bun src/server/testing/flood.ts <ws url> <seconds>
 */

/** What one flood run sent and received. */
export interface FloodSummary {
  connections: number;
  sent: number;
  snapshots: number;
  errors: Record<string, number>;
  /** Close codes the server gave, by code. */
  closes: Record<string, number>;
}

/** Floods `url` for `seconds`; see the file comment. */
export async function flood(url: string, seconds: number): Promise<FloodSummary> {
  const end = Date.now() + seconds * 1000;
  const summary: FloodSummary = { connections: 0, sent: 0, snapshots: 0, errors: {}, closes: {} };
  const count = (into: Record<string, number>, key: string | number) => (into[key] = (into[key] ?? 0) + 1);
  while (Date.now() < end) {
    const ws = new WebSocket(url);
    summary.connections++;
    let hello: { symbols: string[]; intervals: string[] } | undefined;
    let closed = false;
    ws.onmessage = (e) => {
      const f = JSON.parse(String(e.data)) as { type: string; code?: string };
      if (f.type === "hello") hello = f as unknown as typeof hello;
      else if (f.type === "snapshot") summary.snapshots++;
      else if (f.type === "error") count(summary.errors, f.code ?? "?");
    };
    ws.onclose = (e) => ((closed = true), count(summary.closes, e.code));
    ws.onerror = () => {};
    while (!hello && !closed && Date.now() < end) await Bun.sleep(2);
    if (!hello) continue;
    const pairs = { symbols: hello.symbols, intervals: hello.intervals };
    const frames = [JSON.stringify({ op: "subscribe", ...pairs }), JSON.stringify({ op: "unsubscribe", ...pairs })];
    while (Date.now() < end && !closed) {
      for (const frame of frames) ws.send(frame);
      summary.sent += frames.length;
      if (ws.bufferedAmount > 1 << 20 || summary.sent % 200 === 0) await Bun.sleep(1);
    }
    ws.close();
  }
  return summary;
}

if (import.meta.main) {
  const [url, seconds] = [process.argv[2], Number(process.argv[3] ?? 5)];
  if (!url) throw new Error("usage: bun src/server/testing/flood.ts <ws url> <seconds>");
  console.log(JSON.stringify(await flood(url, seconds)));
  process.exit(0);
}

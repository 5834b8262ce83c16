import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type Served } from "../testing/spawn.ts";

// `serve` in a child process, as an operator runs it: what it answers hostile HTTP, and what it logs.
const ROOT = join(import.meta.dir, "../../..");
const FILE = join(ROOT, "fixtures/replay.ws.jsonl");
const dir = mkdtempSync(join(tmpdir(), "candleflow-bun-"));

/** Sends `request` bytes on a raw TCP socket; resolves with everything the server wrote before closing (or 2 s). */
function raw(url: URL, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let out = "";
    const done = () => (clearTimeout(timer), socket.destroy(), resolve(out));
    const timer = setTimeout(done, 2000);
    socket.on("data", (d) => {
      out += d;
      // One answer is all these tests want; a keep-alive socket would otherwise wait for the timer.
      const head = out.indexOf("\r\n\r\n");
      const length = /content-length: *([0-9]+)/i.exec(out)?.[1];
      if (head >= 0 && (length === undefined ? /connection: close/i.test(out) : out.length >= head + 4 + Number(length))) done();
    });
    socket.on("close", done);
    socket.on("error", done);
    socket.write(request);
  });
}

const status = (answer: string) => Number(/^HTTP\/1\.1 ([0-9]{3})/.exec(answer)?.[1]);
const body = (answer: string) => answer.slice(answer.indexOf("\r\n\r\n") + 4);

describe("HTTP edge cases on Bun.serve", () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve(["--db", join(dir, "edge.sqlite"), "--file", FILE, "--speed", "0", "--no-loop"]);
  });
  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a missing Host header is a 400, never a 500", async () => {
    const answer = await raw(s.url, "GET / HTTP/1.1\r\n\r\n");
    expect(status(answer)).toBe(400);
    expect(status(await raw(s.url, "GET /api/v1/health HTTP/1.1\r\n\r\n"))).toBe(400);
  });

  test("a malformed Host header is a 400 with the JSON error body; the log does not grow per bad request", async () => {
    await raw(s.url, `GET /api/v1/health HTTP/1.1\r\nHost: ${s.url.host}\r\nConnection: close\r\n\r\n`);
    const logged = s.output().length;
    for (const host of ["a b", "[::1", "%%%", "exa mple.com:80"]) {
      // GET / is answered by Bun's router, which builds no URL: it serves the page whatever the Host says.
      expect(status(await raw(s.url, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`))).toBe(200);
      for (const path of ["/api/v1/health", "/api/v1/symbols", "/ws", "/nowhere"]) {
        const answer = await raw(s.url, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        expect(status(answer)).toBe(400);
        expect(JSON.parse(body(answer))).toEqual({ error: { code: "BAD_REQUEST", message: expect.stringContaining("Host") } });
      }
    }
    const health = await raw(s.url, `GET /api/v1/health HTTP/1.1\r\nHost: ${s.url.host}\r\nConnection: close\r\n\r\n`);
    expect(status(health)).toBe(200);
    expect(s.output().length).toBe(logged);
    expect(s.output()).not.toContain("Invalid URL");
  });

  test("POST / is a 405 with the JSON error body and an Allow header; GET / is still the page", async () => {
    const res = await fetch(s.url, { method: "POST", body: "x" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expect(await res.json()).toEqual({ error: { code: "METHOD_NOT_ALLOWED", message: expect.stringContaining("POST /") } });
    const page = await fetch(s.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
  });

  test("headers too large are refused (431) and the server keeps answering", async () => {
    const answer = await raw(s.url, `GET /api/v1/health HTTP/1.1\r\nHost: ${s.url.host}\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`);
    expect(status(answer)).toBe(431);
    expect((await fetch(new URL("/api/v1/health", s.url))).status).toBe(200);
  });
});

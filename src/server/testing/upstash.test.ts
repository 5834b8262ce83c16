import { afterAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { Redis } from "@upstash/redis";
import { available, servers } from "./servers.ts";
import { startUpstashServer, wipe, type UpstashServer } from "./upstash.ts";

// The unmodified client, configured as the adapters configure it (raw replies, no auto-pipelining),
// once with its default base64 response encoding and once without.
const up = await available("redis", servers.redis, 6379);
const token = `t-${crypto.randomUUID()}`;
const upstash: UpstashServer | undefined = up ? await startUpstashServer({ redisUrl: servers.redis, token }) : undefined;
const admin = up ? new RedisClient(servers.redis) : undefined;
const prefix = `cftest:${crypto.randomUUID().slice(0, 8)}:`;
const client = (encoding: "base64" | false = "base64", t = token) =>
  new Redis({ url: upstash!.url, token: t, automaticDeserialization: false, enableAutoPipelining: false, enableTelemetry: false, responseEncoding: encoding, retry: false });
afterAll(async () => {
  if (admin) {
    await wipe(admin, prefix);
    admin.close();
  }
  await upstash?.stop();
});
const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
  fetch(upstash!.url + path, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });

describe.skipIf(!up)("the Upstash endpoint, through the unmodified @upstash/redis client", () => {
  for (const encoding of ["base64", false] as const) {
    describe(`Upstash-Encoding ${encoding || "off"}`, () => {
      const redis = () => client(encoding);
      const k = (name: string) => `${prefix}${encoding}:${name}`;

      test("strings come back exactly: unicode, JSON, numbers as text, OK statuses, missing keys as null", async () => {
        const r = redis();
        expect(await r.set(k("s"), "héllo ✓ 𝄞")).toBe("OK");
        expect(await r.get(k("s"))).toBe("héllo ✓ 𝄞");
        expect(await r.set(k("n"), "0012.50")).toBe("OK");
        expect(await r.get(k("n"))).toBe("0012.50");
        await r.set(k("ok"), "OK");
        expect(await r.get(k("ok"))).toBe("OK");
        expect(await r.get(k("missing"))).toBeNull();
        expect(await r.ping()).toBe("PONG");
        expect(await r.publish(k("nobody"), "x")).toBe(0);
      });

      test("errors of Redis are thrown with Redis's message", async () => {
        const r = redis();
        await r.set(k("str"), "x");
        await expect(r.hget(k("str"), "f")).rejects.toThrow(/WRONGTYPE/);
        await expect(r.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
      });

      test("EVAL and EVALSHA run scripts with keys and arguments; nested replies decode", async () => {
        const r = redis();
        const script = "redis.call('SET', KEYS[1], ARGV[1]); return {ARGV[1], 7, {ARGV[2]}, false}";
        expect(await r.eval(script, [k("lua")], ["a b", "ü"])).toEqual(["a b", 7, ["ü"], null]);
        const sha = (await admin!.send("SCRIPT", ["LOAD", script])) as string;
        expect(await r.evalsha(sha, [k("lua")], ["c", "d"])).toEqual(["c", 7, ["d"], null]);
        expect(await r.get(k("lua"))).toBe("c");
      });

      test("pipelines answer per command, errors in place; HSETNX and HMGET", async () => {
        const r = redis();
        const got = await r.pipeline().hsetnx(k("h"), "a", "1").hsetnx(k("h"), "a", "2").hmget(k("h"), "a", "b").incr(k("s-not-int")).exec({ keepErrors: true });
        await r.set(k("s-not-int"), "x");
        expect(got.map((g) => g.result as unknown)).toEqual([1, 0, ["1", null], 1]);
        const failed = await r.pipeline().get(k("s-not-int")).incr(k("s-not-int")).exec({ keepErrors: true });
        expect(failed[0]!.result).toBe("x");
        expect(failed[1]!.error).toMatch(/not an integer/);
      });

      test("streams: XADD with 0-* and MAXLEN ~, XRANGE and XREVRANGE with COUNT", async () => {
        const r = redis();
        const trim = { trim: { type: "MAXLEN", comparison: "~", threshold: 1000 } } as const;
        const ids = await r.pipeline().xadd(k("x"), "0-*", { trade: '{"p":"1.5"}' }, trim).xadd(k("x"), "0-*", { trade: "ü" }, trim).xadd(k("x"), "*", { other: "x" }).exec();
        expect(ids.slice(0, 2)).toEqual(["0-1", "0-2"]);
        expect(String(ids[2])).toMatch(/^\d{13}-0$/);
        const [range, first, last] = await r.pipeline().xrange(k("x"), "0-2", "+", 1).xrange(k("x"), "-", "+", 1).xrevrange(k("x"), "+", "-", 1).exec();
        expect(range as unknown).toEqual([["0-2", ["trade", "ü"]]]);
        expect(first as unknown).toEqual([["0-1", ["trade", '{"p":"1.5"}']]]);
        expect((last as unknown as [string, string[]][])[0]![1]).toEqual(["other", "x"]);
        expect(await r.xrange(k("none"), "-", "+") as unknown).toEqual([]);
      });

      test("a transaction runs atomically; a command refused while queueing aborts it", async () => {
        const r = redis();
        expect(await r.multi().set(k("m"), "1").incr(k("m")).get(k("m")).exec()).toEqual(["OK", 2, "2"]);
        expect(await r.multi().set(k("m"), "3").hget(k("m"), "f").exec({ keepErrors: true }).then((g) => g.map((x) => x.error ?? x.result))).toEqual(["OK", expect.stringMatching(/WRONGTYPE/)]);
        const res = await post("/multi-exec", [["SET", k("m"), "9"], ["NOSUCHCOMMAND"]]);
        expect(res.status).toBe(400);
        expect((await res.json()).error).toMatch(/EXECABORT/);
        expect(await r.get(k("m"))).toBe("3");
      });

      test("subscribe streams server-sent events: a confirmation, then each message in order; unsubscribing ends it", async () => {
        const r = redis();
        const sub = r.subscribe<string>(k("ch"));
        const got: string[] = [];
        const confirmed = new Promise((resolve) => sub.on("subscribe", resolve));
        sub.on("message", ({ message }) => got.push(message));
        expect(await confirmed).toBe(1);
        for (const m of ['{"a":1}', "two, with commas", "ü"]) await r.publish(k("ch"), m);
        for (let i = 0; i < 100 && got.length < 3; i++) await Bun.sleep(10);
        expect(got).toEqual(['{"a":1}', "two, with commas", "ü"]);
        await sub.unsubscribe();
        for (let i = 0; i < 100 && (await r.publish(k("ch"), "late")) > 0; i++) await Bun.sleep(10);
        expect(await r.publish(k("ch"), "late")).toBe(0);
      });
    });
  }

  test("base64 is of the value's bytes, at every depth, except a top-level OK", async () => {
    await admin!.send("SET", [`${prefix}bin`, "héllo"]);
    const one = await post("/", ["GET", `${prefix}bin`], { authorization: `Bearer ${token}`, "Upstash-Encoding": "base64" });
    expect(await one.json()).toEqual({ result: btoa("h\xc3\xa9llo") });
    const ok = await post("/", ["SET", `${prefix}x`, "1"], { authorization: `Bearer ${token}`, "Upstash-Encoding": "base64" });
    expect(await ok.json()).toEqual({ result: "OK" });
    const nested = await post("/", ["EVAL", "return {'OK', {'a'}, 1}", "0"], { authorization: `Bearer ${token}`, "Upstash-Encoding": "base64" });
    expect(await nested.json()).toEqual({ result: [btoa("OK"), [btoa("a")], 1] });
  });

  test("without the token: 401; a bad body or command: 400; other methods: 405", async () => {
    expect((await post("/", ["PING"], {})).status).toBe(401);
    expect((await post("/", ["PING"], { authorization: "Bearer wrong" })).status).toBe(401);
    await expect(client("base64", "wrong").ping()).rejects.toThrow(/Unauthorized/);
    const bad = await post("/", "not json");
    expect([bad.status, (await bad.json()).error]).toEqual([400, expect.stringMatching(/JSON/)]);
    const unknown = await post("/", ["NOSUCHCOMMAND"]);
    expect([unknown.status, (await unknown.json()).error]).toEqual([400, expect.stringMatching(/unknown command/)]);
    expect((await fetch(upstash!.url + "/", { method: "DELETE", headers: { authorization: `Bearer ${token}` } })).status).toBe(405);
  });

  test("path-style commands: arguments in the path, a POST body as the last one, query parameters after it, ?_token", async () => {
    const key = `${prefix}path`;
    expect(await (await fetch(`${upstash!.url}/set/${key}/a%2Fb?_token=${token}`)).json()).toEqual({ result: "OK" });
    expect(await (await fetch(`${upstash!.url}/get/${key}?_token=${token}`)).json()).toEqual({ result: "a/b" });
    const res = await fetch(`${upstash!.url}/set/${key}?EX=100`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: '{"v":1}' });
    expect(await res.json()).toEqual({ result: "OK" });
    expect(await admin!.get(key)).toBe('{"v":1}');
    expect(Number(await admin!.send("TTL", [key]))).toBeGreaterThan(90);
  });
});

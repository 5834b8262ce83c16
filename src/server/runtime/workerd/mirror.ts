/**
 * An object's candles mirrored to Upstash, so that everything else reading the same database
 * (the Bun API processes of the local stack, other consumers) sees them: the latest candles
 * under the keys of `upstashCache`, set through the same guard script, and the pub/sub
 * messages of `publisher`. What one flush sends goes out as one request: the guard's EVALSHA
 * and every PUBLISH in one `/pipeline` (a cold script costs one more, its EVAL).
 */
import { AdapterError } from "../../adapters/errors.ts";
import { GUARD } from "../../adapters/redis-guard.ts";
import { failure, sha1, upstashClient, type UpstashOptions } from "../../adapters/upstash-client.ts";
import type { Cache } from "../../adapters/types.ts";
import { publisher, type Publisher } from "../../pipeline/publisher.ts";

type Command = { publish: [channel: string, message: string] } | { latest: [keys: string[], values: string[]] };

/**
 * A write-only `Cache` whose calls made in one turn of the event loop are sent together as
 * one pipeline (the publisher issues a flush's calls together). Reads are not its job: the
 * object serves its own clients from memory.
 */
export function pipelinedCache(options: UpstashOptions & { prefix: string }): Cache & { requests(): number } {
  const name = "upstash";
  const { prefix } = options;
  let client: ReturnType<typeof upstashClient> | undefined;
  let batch: { commands: Command[]; sent: Promise<void> } | undefined;
  let requests = 0;

  const send = async (commands: Command[]): Promise<void> => {
    const redis = (client ??= upstashClient(options));
    const sha = await sha1(GUARD);
    const p = redis.pipeline();
    for (const c of commands) {
      if ("publish" in c) p.publish(prefix + c.publish[0], c.publish[1]);
      else p.evalsha(sha, ...c.latest);
    }
    requests++;
    const results = await p.exec({ keepErrors: true }).catch((e) => Promise.reject(failure(name, e, "flush")));
    const cold = commands.filter((c, i): c is Extract<Command, { latest: unknown }> => "latest" in c && /NOSCRIPT/i.test(results[i]?.error ?? ""));
    const refused = results.find((r, i) => r.error && !cold.includes(commands[i] as never));
    if (refused) throw new AdapterError(name, "UNAVAILABLE", `flush: ${refused.error}`, { retryable: false });
    for (const c of cold) {
      requests++;
      await redis.eval(GUARD, ...c.latest).catch((e) => Promise.reject(failure(name, e, "setLatest")));
    }
  };
  const queue = (command: Command): Promise<void> => {
    if (!batch) {
      const commands: Command[] = [];
      // Sent once the caller's synchronous calls are all queued.
      batch = { commands, sent: Promise.resolve().then(() => ((batch = undefined), send(commands))) };
    }
    batch.commands.push(command);
    return batch.sent;
  };
  const unread = (): never => {
    throw new AdapterError(name, "INVALID_ARGUMENT", "the mirror only writes: reads are served by the object itself");
  };

  return {
    name,
    async setLatest(candles) {
      if (candles.length === 0) return;
      await queue({ latest: [candles.map((c) => `${prefix}latest:${c.symbol}:${c.interval}`), candles.map((c) => JSON.stringify(c))] });
    },
    publish: (channel, message) => queue({ publish: [channel, message] }),
    latest: async () => unread(),
    subscribe: async () => unread(),
    async health() {
      try {
        await (client ??= upstashClient(options)).ping();
        return { adapter: name, ok: true };
      } catch (e) {
        return { adapter: name, ok: false, detail: failure(name, e, "ping").message };
      }
    },
    async close() {},
    requests: () => requests,
  };
}

/** A publisher into the pipelined cache: one request per flush, failures reported, never thrown. */
export function mirror(options: UpstashOptions & { prefix: string }): Publisher {
  return publisher(pipelinedCache(options), { clock: Date.now, everyMs: 0, onError: (e) => console.error("upstash mirror:", e) });
}

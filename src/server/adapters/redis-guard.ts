import type { RedisClient } from "bun";

/**
 * Mirrors `newer`/`supersedes` in candle-order.ts, inside Redis so that two processors writing the
 * same key can never roll a candle back: a newer window always wins; within a window a final
 * is replaced only by a final with a higher `rev`, an open candle by any final or by an open
 * one with at least as many trades. KEYS[i] gets ARGV[i]; candles apply in order, atomically.
 * The Upstash cache runs the same text.
 */
export const GUARD = `
for i, key in ipairs(KEYS) do
  local cand = cjson.decode(ARGV[i])
  local held = redis.call('GET', key)
  local take = true
  if held then
    local prev = cjson.decode(held)
    if cand.openTime ~= prev.openTime then
      take = cand.openTime > prev.openTime
    elseif prev.final then
      take = cand.final and cand.rev > prev.rev
    else
      take = cand.final or cand.trades >= prev.trades
    end
  end
  if take then redis.call('SET', key, ARGV[i]) end
end
return #KEYS
`;
// Hashed on first use, so that importing `GUARD` touches no Bun API (edge adapters share the script).
let sha: string | undefined;

/**
 * Sets `values[i]` (candle JSON) under `keys[i]` where the guard lets it, all in one script
 * call: one round trip and atomic, whatever other writers do. EVALSHA first; the server
 * answers NOSCRIPT after a restart or `SCRIPT FLUSH`, and then EVAL loads it again.
 */
export async function guard(client: RedisClient, keys: readonly string[], values: readonly string[]): Promise<void> {
  const args = [String(keys.length), ...keys, ...values];
  try {
    sha ??= new Bun.CryptoHasher("sha1").update(GUARD).digest("hex");
    await client.send("EVALSHA", [sha, ...args]);
  } catch (e) {
    if (!(e instanceof Error) || !e.message.startsWith("NOSCRIPT")) throw e;
    await client.send("EVAL", [GUARD, ...args]);
  }
}

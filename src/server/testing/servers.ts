/**
 * Where the integration tests find the real servers, and whether they may skip: a test of
 * a networked adapter runs against the server named by the same variable the app reads
 * (`KAFKA_BROKERS`, `REDIS_URL`, `DATABASE_URL`), falling back to this machine's default
 * ports. Unreachable, it skips with a notice, except under `CI`, where it fails the run.
 */
import { connect } from "node:net";

/** True when `CI` is set to anything but `false`/`0`. */
export const CI = !!process.env.CI && process.env.CI !== "false" && process.env.CI !== "0";

/** The servers the tests use, from the environment or the local defaults. */
export const servers = {
  kafka: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092",
  redis: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  postgres: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
};

/** Resolves true when a TCP connection to `host:port` opens within `timeoutMs`. */
export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** `host:port` of the first address in a URL or broker list. */
export function hostPort(address: string, defaultPort: number): { host: string; port: number } {
  const first = address.split(",")[0]!.trim();
  const url = new URL(first.includes("://") ? first : `tcp://${first}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port ? Number(url.port) : defaultPort };
}

/**
 * Whether the tests of `what` can run: true when its server answers; false with a printed
 * notice when it does not; throws under CI, where every server must be up.
 *
 * @example
 * const up = await available("postgres", servers.postgres, 5432)
 * describe.skipIf(!up)("postgres store", () => { ... })
 */
export async function available(what: string, address: string, defaultPort: number): Promise<boolean> {
  const { host, port } = hostPort(address, defaultPort);
  if (await tcpReachable(host, port)) return true;
  const message = `${what} at ${host}:${port} is unreachable`;
  if (CI) throw new Error(`${message}; CI must start it before the tests`);
  console.warn(`[skip] ${message}: its integration tests are skipped`);
  return false;
}

/** Variables that move a spawned `serve` off the embedded defaults. */
const STACK_VARIABLES = ["KAFKA_BROKERS", "REDIS_URL", "DATABASE_URL", "CANDLEFLOW_LOG", "CANDLEFLOW_CACHE", "CANDLEFLOW_STORE", "CANDLEFLOW_ROLES", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"];

/**
 * This process's environment without the local-stack variables, plus `extra`: for tests
 * that spawn the server on its embedded defaults even when CI has the stack's servers up.
 */
export function embeddedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !STACK_VARIABLES.includes(k)) env[k] = v;
  return { ...env, ...extra };
}

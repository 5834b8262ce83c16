/**
 * Private Redis, PostgreSQL and Kafka servers for fault tests: each on its own free port
 * and in its own temporary directory, so a test can stop and start it without touching the
 * servers other people and tests share. Every server started here is stopped by its own
 * handle (by PID); `stopPrivateServers` stops whatever is still running (for afterAll).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdtemp, rm, symlink } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CI, tcpReachable } from "./servers.ts";

const ROOT = join(import.meta.dir, "../../..");
/** The newest PostgreSQL server binaries installed the Debian way (`/usr/lib/postgresql/<major>/bin`). */
const PG_BIN = (() => {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return join(root, majors[0] ?? "15", "bin");
})();

/** A private server a test may stop and start again on the same port. */
export interface PrivateServer {
  /** Where clients connect: a URL (Redis, PostgreSQL) or `host:port` (Kafka). */
  url: string;
  port: number;
  /** Stops it and waits until it is gone. */
  stop(): Promise<void>;
  /** Starts it again (same port, same data) and waits until it answers. */
  start(): Promise<void>;
  /** Stops it if running and removes its directory. */
  close(): Promise<void>;
  /** The last lines the server logged, for a failing test to show (where the server keeps a log). */
  logTail?(): string;
}

const open = new Set<PrivateServer>();

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Runs a command to its end; throws with its output when it fails. */
async function run(cmd: string[], env: Record<string, string> = {}): Promise<string> {
  const child = Bun.spawn(cmd, { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${err || out}`);
  return out;
}

/** `close` of a server kept in a temporary directory: stops it if it runs, forgets it, removes the directory. */
const closer = (server: PrivateServer, dir: string) => async () => {
  await server.stop().catch(() => {});
  open.delete(server);
  await rm(dir, { recursive: true, force: true });
};

/** As root, runs `cmd` as the `postgres` OS user (the server refuses to run as root). */
const asPostgres = (cmd: string[]) => (process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd);

/**
 * Which private servers can run here (their programs are installed). Missing ones print
 * a notice and answer false; under `CI` they fail the run instead, like `available`.
 */
export function privateServersAvailable(...kinds: ("redis" | "postgres" | "kafka")[]): boolean {
  const missing = kinds.filter((k) =>
    k === "redis" ? !Bun.which("redis-server")
      : k === "postgres" ? !existsSync(join(PG_BIN, "initdb")) || (process.getuid?.() === 0 && !Bun.which("runuser"))
        : !Bun.which("java") || (!existsSync(join(ROOT, ".kafka/lib/.complete")) && !Bun.which("mvn")));
  if (missing.length === 0) return true;
  const message = `private ${missing.join(", ")} server(s) cannot be started here (program missing)`;
  if (CI) throw new Error(`${message}; CI must install them`);
  console.warn(`[skip] ${message}: the fault tests are skipped`);
  return false;
}

/** A Redis server of its own (no persistence), on a free port. */
export async function privateRedis(): Promise<PrivateServer> {
  const port = await freePort();
  let child: ReturnType<typeof Bun.spawn> | undefined;
  const server: PrivateServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], {
        stdin: "ignore", stdout: "ignore", stderr: "ignore",
      });
      await until(`redis on ${port}`, () => tcpReachable("127.0.0.1", port, 200), 10_000);
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      child.kill("SIGTERM");
      await child.exited;
    },
    async close() {
      await server.stop();
      open.delete(server);
    },
  };
  open.add(server);
  await server.start();
  return server;
}

/** A PostgreSQL cluster of its own (trust auth, user and database `postgres`), in a temporary directory, on a free port. */
export async function privatePostgres(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "candleflow-pg-"));
  if (process.getuid?.() === 0) {
    const id = Number((await run(["id", "-u", "postgres"])).trim());
    const gid = Number((await run(["id", "-g", "postgres"])).trim());
    await chown(dir, id, gid);
  }
  const data = join(dir, "data");
  await run(asPostgres([join(PG_BIN, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-N"]));
  const pgCtl = (...args: string[]) => run(asPostgres([join(PG_BIN, "pg_ctl"), "-D", data, ...args]));
  let up = false;
  const server: PrivateServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await pgCtl("-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "-l", join(dir, "server.log"), "-w", "start");
      up = true;
    },
    async stop() {
      if (!up) return;
      await pgCtl("-m", "fast", "-w", "stop");
      up = false;
    },
    close: () => closer(server, dir)(),
  };
  open.add(server);
  await server.start();
  return server;
}

/**
 * A single-node Kafka broker of its own (scripts/kafka/start.sh with `KAFKA_DIR` a temporary
 * directory), on free ports. It reuses the jars of the default broker when they are fetched.
 */
export async function privateKafka(): Promise<PrivateServer> {
  const [port, controller] = [await freePort(), await freePort()];
  const dir = await mkdtemp(join(tmpdir(), "candleflow-kafka-"));
  const jars = join(ROOT, ".kafka/lib");
  if (existsSync(join(jars, ".complete"))) await symlink(jars, join(dir, "lib"));
  const env = { KAFKA_DIR: dir, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controller) };
  const script = (name: string) => run(["bash", join(ROOT, "scripts/kafka", name)], env);
  const server: PrivateServer = {
    url: `127.0.0.1:${port}`,
    port,
    start: async () => void (await script("start.sh")),
    stop: async () => void (await script("stop.sh")),
    close: () => closer(server, dir)(),
    logTail: () => ["stdout.log", "server.log"].map((f) => {
      const file = join(dir, "logs", f);
      return `--- ${f}\n${existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-40).join("\n") : "(none)"}`;
    }).join("\n"),
  };
  open.add(server);
  await server.start();
  return server;
}

/** Stops and removes every private server still open (for afterAll). */
export async function stopPrivateServers(): Promise<void> {
  await Promise.all([...open].map((s) => s.close()));
}

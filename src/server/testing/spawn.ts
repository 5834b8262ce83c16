/**
 * `candleflow serve` in child processes, for tests of the local stack with real processes:
 * start one, wait for the URL it prints, kill it (SIGTERM or SIGKILL), and make sure none
 * outlives the test.
 */
import { join } from "node:path";
import { embeddedEnv } from "./servers.ts";

const ROOT = join(import.meta.dir, "../../..");
const CLI = join(ROOT, "src/server/cli.ts");

/** A running `serve` process. */
export interface Served {
  /** Where it listens. */
  url: URL;
  /** The child process. */
  child: ReturnType<typeof Bun.spawn>;
  /** Everything it printed on stdout and stderr so far. */
  output(): string;
  /** SIGTERM, and waits for the exit code. */
  stop(): Promise<number>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

const running = new Set<Served>();

/** Starts `serve` with `args` (and `--port 0`); resolves once it prints where it listens, or rejects within `timeoutMs`. */
export async function serve(args: string[], timeoutMs = 20_000): Promise<Served> {
  const child = Bun.spawn(["bun", "run", CLI, "serve", "--port", "0", ...args], {
    cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: embeddedEnv(),
  });
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += decoder.decode(r.value, { stream: true });
  };
  void pump(child.stdout as ReadableStream<Uint8Array>);
  void pump(child.stderr as ReadableStream<Uint8Array>);
  const served: Served = {
    url: new URL("http://invalid/"),
    child,
    output: () => out,
    async stop() {
      child.kill("SIGTERM");
      const code = await child.exited;
      running.delete(served);
      return code;
    },
    async kill() {
      child.kill("SIGKILL");
      await child.exited;
      running.delete(served);
    },
  };
  running.add(served);
  const deadline = Date.now() + timeoutMs;
  while (!/listening on (http:\S+)/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await served.kill();
      throw new Error(`serve ${args.join(" ")} did not start: ${out}`);
    }
    await Bun.sleep(20);
  }
  served.url = new URL(/listening on (http:\S+)/.exec(out)![1]!);
  return served;
}

/** SIGKILLs every process `serve` started that is still running (for afterAll/afterEach). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.kill()));
}

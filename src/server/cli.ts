/**
 * `bun run candleflow <command> [...args]`: one entry point over a table of commands.
 * A command is a module exporting `summary` and `run`; add one line below to add one.
 */

/** What a command module exports. */
export interface Command {
  /** One line for the command list. */
  summary: string;
  /** Runs with the arguments after the command's name; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

// Loaded on use, so one command's dependencies never slow down or break another.
const commands: Record<string, () => Promise<Command>> = {
  bench: () => import("../../scripts/bench.ts"),
  candles: () => import("./commands/candles.ts"),
  serve: () => import("./commands/serve.ts"),
};

async function help(): Promise<string> {
  const names = Object.keys(commands).sort();
  const rows = await Promise.all(names.map(async (name) => `  ${name.padEnd(10)} ${(await commands[name]!()).summary}`));
  return [
    "usage: bun run candleflow <command> [...args]",
    "",
    "commands:",
    ...rows,
    "",
    "Run `bun run candleflow <command> --help` for a command's options.",
  ].join("\n");
}

/** Runs the command named by `argv[0]` with the rest; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(await help());
    return 0;
  }
  if (name === undefined || !Object.hasOwn(commands, name)) {
    if (name !== undefined) console.error(`candleflow: unknown command "${name}"\n`);
    console.error(await help());
    return 2;
  }
  return (await commands[name]!()).run(rest);
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));

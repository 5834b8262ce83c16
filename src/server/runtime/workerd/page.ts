/**
 * Builds the page (`src/web/index.html` and what it imports) with Bun into static files, the
 * worker's `[assets]` directory: `bun run build:worker` (wrangler runs it before `dev` and
 * `deploy`). On Bun the page is bundled by `Bun.serve` at start-up; Workers serve files.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";

/** The page's entry. */
const PAGE = join(import.meta.dir, "../../../web/index.html");

/** Bundles the page into `outdir` (emptied first, so no stale chunk stays); returns the files written. */
export async function buildPage(outdir: string): Promise<string[]> {
  rmSync(outdir, { recursive: true, force: true });
  const out = await Bun.build({ entrypoints: [PAGE], outdir, target: "browser", minify: true });
  if (!out.success) throw new AggregateError(out.logs, "page build failed");
  return out.outputs.map((o) => o.path);
}

if (import.meta.main) {
  const outdir = process.argv[2] ?? join(import.meta.dir, "../../../../dist/web");
  for (const file of await buildPage(outdir)) console.log(file);
}

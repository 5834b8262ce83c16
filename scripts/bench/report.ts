import { cpus, release, totalmem } from "node:os";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** Measured runs of one figure, with their median and spread. */
export interface Figure {
  /** Short name, e.g. `core throughput`. */
  name: string;
  unit: string;
  /** One value per run, in run order. */
  runs: number[];
  median: number;
  min: number;
  max: number;
  /** Target as people read it, e.g. `>= 10M`. */
  target?: string;
  /** Whether the median meets the target. */
  met?: boolean;
  /** What was measured, in a few words. */
  note?: string;
}

/** What the numbers were measured on. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  runtime: string;
  date: string;
}

/** Median of the values (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A figure from its runs; `goal` checks the median against a target. */
export function figure(
  name: string,
  unit: string,
  runs: number[],
  extra: { target?: string; goal?: (median: number) => boolean; note?: string } = {},
): Figure {
  const med = median(runs);
  const f: Figure = { name, unit, runs, median: med, min: Math.min(...runs), max: Math.max(...runs) };
  if (extra.target !== undefined) f.target = extra.target;
  if (extra.goal !== undefined) f.met = extra.goal(med);
  if (extra.note !== undefined) f.note = extra.note;
  return f;
}

/**
 * Ratio of two figures. `paired`: their runs alternated, so run i of one is divided by run
 * i of the other. Otherwise the ratio of medians, with min and max pairing the worst and
 * best runs of each: the widest range the runs allow.
 */
export function ratio(
  name: string,
  top: Figure,
  bottom: Figure,
  extra: { paired?: boolean; target?: string; goal?: (median: number) => boolean; note?: string } = {},
): Figure {
  if (extra.paired === true) return figure(name, "x", top.runs.map((v, i) => v / bottom.runs[i]!), extra);
  const f = figure(name, "x", [top.median / bottom.median], extra);
  f.runs = [];
  f.min = top.min / bottom.max;
  f.max = top.max / bottom.min;
  return f;
}

/** CPU model, cores, memory, OS and runtime of this process. */
export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"));
    if (line !== undefined) cpu = line.slice(line.indexOf(":") + 1).trim();
  } catch {
    // No /proc (macOS, Windows): keep what node:os says.
  }
  return {
    cpu,
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    runtime: `bun ${Bun.version} (${Bun.revision.slice(0, 9)})`,
    date: new Date().toISOString(),
  };
}

/** Peak resident memory of this process so far, MB. */
export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** 1234567 → "1.23M", 0.5 → "0.500"; keeps tables narrow. */
export function short(value: number): string {
  const a = Math.abs(value);
  if (a >= 1e9) return `${(value / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  if (a >= 100) return value.toFixed(0);
  if (a >= 10) return value.toFixed(1);
  if (a >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** The figures as a fixed-width text table. */
export function table(figures: readonly Figure[]): string {
  const head = ["figure", "median", "min", "max", "unit", "target", "met"];
  const rows = figures.map((f) => [
    f.name,
    short(f.median),
    short(f.min),
    short(f.max),
    f.unit,
    f.target ?? "",
    f.met === undefined ? "" : f.met ? "yes" : "NO",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i >= 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Write the report as pretty JSON, creating the folder when needed. */
export function writeJson(path: string, report: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

// The core must run unchanged on every runtime and give the same bytes for the same input,
// so its sources may touch no runtime module, no clock, no random source and no timer.

const LIB = import.meta.dir;
const ROOT = join(LIB, "..", "..");

const FORBIDDEN_MODULE = /^(node:.*|bun|bun:.*|fs|fs\/.*|path|path\/.*)$/;
const FORBIDDEN_MEMBER = new Set(["Date.now", "Math.random", "performance.now"]);
const FORBIDDEN_NAME = new Set(["setTimeout", "setInterval", "Deno"]);

/** Non-test `.ts` files under src/lib, relative to it. */
function libSources(dir = LIB): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...libSources(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) out.push(relative(LIB, path));
  }
  return out.sort();
}

function parse(name: string, text: string): ts.SourceFile {
  return ts.createSourceFile(name, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
}

/** Module specifiers of static imports, re-exports, dynamic imports and require calls. */
function moduleSpecifiers(source: ts.SourceFile): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const ref = node.moduleReference.expression;
      if (ts.isStringLiteral(ref)) found.push(ref.text);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      const arg = node.arguments[0];
      if ((isImport || isRequire) && arg && ts.isStringLiteralLike(arg)) found.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const lit = node.argument.literal;
      if (ts.isStringLiteral(lit)) found.push(lit.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every use of a runtime module, clock, random source, timer or the Deno namespace, as `line: what`. */
function impurities(source: ts.SourceFile): string[] {
  const found: string[] = [];
  const at = (node: ts.Node, what: string): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    found.push(`${line}: ${what}`);
  };
  for (const spec of moduleSpecifiers(source)) {
    if (FORBIDDEN_MODULE.test(spec)) found.push(`imports "${spec}"`);
  }
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const member = `${node.expression.text}.${node.name.text}`;
      if (FORBIDDEN_MEMBER.has(member)) at(node, member);
    } else if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression)) {
      if (FORBIDDEN_NAME.has(node.argumentExpression.text)) at(node, `["${node.argumentExpression.text}"]`);
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "Date") {
      at(node, "new Date(");
    } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "Date") {
      at(node, "Date(");
    } else if (ts.isIdentifier(node) && FORBIDDEN_NAME.has(node.text)) {
      at(node, node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function check(name: string, text: string): string[] {
  return impurities(parse(name, text));
}

describe("the checker", () => {
  test("flags each forbidden import, clock, random source, timer and Deno use", () => {
    const bad = [
      `import { readFileSync } from "node:fs";`,
      `import { file } from "bun";`,
      `import { Database } from "bun:sqlite";`,
      `export { join } from "path";`,
      `const fs = await import("fs");`,
      `const t = Date.now();`,
      `const r = Math.random();`,
      `setTimeout(() => {}, 1);`,
      `const h = setInterval(tick, 5);`,
      `const p = performance.now();`,
      `const d = new Date(0);`,
      `const e = Deno.env.get("X");`,
      `const g = (globalThis as any)["Deno"];`,
    ];
    for (const line of bad) expect(check("bad.ts", line), line).not.toEqual([]);
  });

  test("lets pure code and comments about those things through", () => {
    const good = [
      `import { CandleflowError } from "./errors.ts";`,
      `import type { Trade } from "./types.ts";`,
      `// Date.now() would make replays differ; time comes from advance(now).`,
      `/** Runs on Bun, Deno, Node and in browsers. */ export const x = 1;`,
      `const message = "the core never calls Math.random";`,
      `const d = { now: 1 }; const n = d.now;`,
    ];
    for (const line of good) expect(check("good.ts", line), line).toEqual([]);
  });
});

describe("src/lib", () => {
  const files = libSources();

  test("has sources to check", () => {
    expect(files).toContain("index.ts");
    expect(files).toContain("types.ts");
  });

  test.each(files)("%s is pure: no runtime modules, clock, random source or timers", (file) => {
    expect(check(file, readFileSync(join(LIB, file), "utf8"))).toEqual([]);
  });

  test.each(files)("%s imports its siblings with explicit .ts extensions", (file) => {
    const specs = moduleSpecifiers(parse(file, readFileSync(join(LIB, file), "utf8")));
    const bad = specs.filter((spec) => spec.startsWith(".") && !spec.endsWith(".ts"));
    expect(bad).toEqual([]);
  });

  test("index.ts only re-exports, so importing the package runs no code", () => {
    const source = parse("index.ts", readFileSync(join(LIB, "index.ts"), "utf8"));
    const others = source.statements
      .filter((s) => !(ts.isExportDeclaration(s) && s.moduleSpecifier))
      .map((s) => s.getText(source).split("\n")[0]);
    expect(others).toEqual([]);
    expect(source.statements.length).toBeGreaterThan(0);
  });
});

test("package.json has no runtime dependencies", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;
  expect(Object.keys((pkg.dependencies ?? {}) as object)).toEqual([]);
});

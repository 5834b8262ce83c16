import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";

const NEWLINE = 10;

/**
 * Where {@link readRows} hands a recorded file. `line` gets each line as text (no `\n`);
 * while `scan` is set, it gets the bytes first and takes as many whole rows as it can,
 * returning where the first row it did not take starts; that row then goes to `line`.
 * `line` may set `scan` (once it knows the format).
 */
export interface RowReader {
  line(text: string): void;
  scan?: (bytes: Uint8Array, at: number, end: number) => number;
}

/** The file's bytes, a read at a time, through gunzip when `gzip`. */
function chunks(path: string, gzip: boolean): AsyncIterable<Uint8Array> {
  const file = createReadStream(path);
  if (!gzip) return file;
  const gunzip = createGunzip();
  file.on("error", (e) => gunzip.destroy(e));
  return file.pipe(gunzip);
}

/** Zero bytes kept after the data, so a scanner reading a few bytes past a cut row stays in bounds. */
const PAD = 16;

/**
 * Reads a recorded file (plain or gzip) into `reader`. Lines are split at `\n` bytes, which
 * never occur inside a UTF-8 sequence, so each line decodes on its own; a leading byte-order
 * mark stays on line 1 for the reader to drop.
 */
export async function readRows(path: string, gzip: boolean, reader: RowReader): Promise<void> {
  const text = new TextDecoder("utf-8", { ignoreBOM: true });
  // One plain buffer for every read: the unfinished last line moves to its front, and the
  // scanner always sees the same kind of array, in bounds (reads past the end of a typed
  // array, or a Buffer one time and a Uint8Array the next, slow the compiled scanner down).
  let work = new Uint8Array(1 << 17);
  let held = 0;
  for await (const chunk of chunks(path, gzip)) {
    if (held + chunk.length + PAD > work.length) {
      const bigger = new Uint8Array(Math.max(work.length * 2, held + chunk.length + PAD));
      bigger.set(work.subarray(0, held));
      work = bigger;
    }
    const buf = work;
    buf.set(chunk, held);
    const end = held + chunk.length;
    buf.fill(0, end, end + PAD);
    let at = 0;
    while (at < end) {
      if (reader.scan !== undefined) {
        at = reader.scan(buf, at, end);
        const nl = buf.indexOf(NEWLINE, at);
        if (nl < 0 || nl >= end) break;
        reader.line(text.decode(buf.subarray(at, nl)));
        at = nl + 1;
      } else {
        // No scanner (WebSocket lines, or the format not known yet): the whole lines decoded at
        // once and split, then handed over one at a time so that `line` can start a scanner.
        const last = buf.lastIndexOf(NEWLINE, end - 1);
        if (last < at) break;
        const lines = text.decode(buf.subarray(at, last)).split("\n");
        let i = 0;
        while (i < lines.length && reader.scan === undefined) reader.line(lines[i++]!);
        if (i === lines.length) at = last + 1;
        // A scanner started: the bytes go on after the i lines taken (found by their newlines,
        // as a decoded line's length need not be its length in bytes).
        else for (let k = 0; k < i; k++) at = buf.indexOf(NEWLINE, at) + 1;
      }
    }
    buf.copyWithin(0, at, end);
    held = end - at;
  }
  if (held > 0) reader.line(text.decode(work.subarray(0, held)));
}

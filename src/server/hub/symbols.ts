/**
 * The symbols clients may subscribe to, as the hub asks for them on every hello and subscribe:
 * read again at most once a second (on a SQL store, listing them reads an index), or at once
 * when a client names one the last read did not have.
 */

/** Known symbols are read again at most this often. */
const SYMBOLS_MS = 1000;

/** The known symbols; `fresh` reads them again now. A failed read is not kept. */
export type KnownSymbols = (fresh?: boolean) => Promise<string[]>;

/** {@link KnownSymbols} over `read`, timed by `clock` (ms; a clock that goes back reads again). */
export function knownSymbols(read: () => Promise<string[]>, clock: () => number): KnownSymbols {
  let listed: { at: number; symbols: Promise<string[]> } | undefined;
  return (fresh = false) => {
    const now = clock();
    if (fresh || !listed || now - listed.at >= SYMBOLS_MS || now < listed.at) {
      const symbols = read();
      listed = { at: now, symbols };
      symbols.catch(() => (listed?.symbols === symbols ? (listed = undefined) : undefined));
    }
    return listed.symbols;
  };
}

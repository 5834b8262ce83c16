/** Bounded polling for tests that wait on sockets. */

/** Resolves once `check()` is true; rejects with `what` after `timeoutMs` (default 5000). */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Reading what a client sends: a frame is checked for its type, size, JSON, `op` and pairs,
 * in that order, and comes back typed or with the protocol's error code and a message.
 */
import { z } from "zod";
import type { ClientFrame } from "../protocol.ts";

const Pairs = z.object({ symbols: z.array(z.string().min(1).max(64)).min(1).max(200), intervals: z.array(z.string().min(1).max(16)).min(1).max(50) });

/** Why a frame was refused: the `error` frame's code, and a message for people. */
export interface FrameRejection {
  code: "BAD_MESSAGE" | "TOO_LARGE" | "BAD_JSON" | "UNKNOWN_OP";
  message: string;
}

/** The client frame in `raw` (at most `frameBytes` bytes of JSON text), or why it is refused. */
export function readClientFrame(raw: string | ArrayBufferView | ArrayBuffer, frameBytes: number): ClientFrame | FrameRejection {
  if (typeof raw !== "string") return { code: "BAD_MESSAGE", message: "frames must be JSON text" };
  // A UTF-16 unit is at most 3 UTF-8 bytes: encode only frames that could be over the limit.
  if (raw.length > frameBytes || (raw.length * 3 > frameBytes && new TextEncoder().encode(raw).length > frameBytes)) {
    return { code: "TOO_LARGE", message: `frames are at most ${frameBytes} bytes` };
  }
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return { code: "BAD_JSON", message: "frame is not JSON" };
  }
  const op = (msg as { op?: unknown } | null)?.op;
  if (typeof msg !== "object" || Array.isArray(msg) || typeof op !== "string") return { code: "BAD_MESSAGE", message: 'expected an object with a string "op"' };
  if (op === "ping") return { op };
  if (op !== "subscribe" && op !== "unsubscribe") return { code: "UNKNOWN_OP", message: `unknown op "${op.slice(0, 32)}"; ops: subscribe, unsubscribe, ping` };
  const pairs = Pairs.safeParse(msg);
  if (!pairs.success) {
    const issue = pairs.error.issues[0]!;
    return { code: "BAD_MESSAGE", message: `${issue.path.join(".") || "frame"}: ${issue.message}` };
  }
  return { op, symbols: pairs.data.symbols, intervals: pairs.data.intervals };
}

import { describe, expect, test } from "bun:test";
import { readClientFrame } from "./frames.ts";

const read = (raw: string | ArrayBuffer) => readClientFrame(raw, 64);

describe("client frames", () => {
  test("subscribe, unsubscribe and ping come back typed", () => {
    expect(read('{"op":"subscribe","symbols":["BTCUSDT"],"intervals":["1m","5m"]}')).toEqual({ op: "subscribe", symbols: ["BTCUSDT"], intervals: ["1m", "5m"] });
    expect(read('{"op":"unsubscribe","symbols":["a"],"intervals":["1m"]}')).toEqual({ op: "unsubscribe", symbols: ["a"], intervals: ["1m"] });
    expect(read('{"op":"ping"}')).toEqual({ op: "ping" });
  });

  test.each([
    [new ArrayBuffer(4), "BAD_MESSAGE", "JSON text"],
    ["x".repeat(65), "TOO_LARGE", "64 bytes"],
    // 23 characters, but 65 bytes of UTF-8: the limit is in bytes...
    [`"${"€".repeat(21)}"`, "TOO_LARGE", "64 bytes"],
    // ...and 62 bytes pass it, to be refused for what they say.
    [`"${"€".repeat(20)}"`, "BAD_MESSAGE", '"op"'],
    ["{op:", "BAD_JSON", "not JSON"],
    ["[1]", "BAD_MESSAGE", '"op"'],
    ["null", "BAD_MESSAGE", '"op"'],
    ['{"op":1}', "BAD_MESSAGE", '"op"'],
    ['{"op":"drop"}', "UNKNOWN_OP", 'unknown op "drop"'],
    ['{"op":"subscribe","symbols":[],"intervals":["1m"]}', "BAD_MESSAGE", "symbols"],
    ['{"op":"subscribe","symbols":["a"]}', "BAD_MESSAGE", "intervals"],
    ['{"op":"subscribe","symbols":[""],"intervals":["1m"]}', "BAD_MESSAGE", "symbols.0"],
  ] as const)("%p is refused with %s", (raw, code, says) => {
    const got = read(raw as string | ArrayBuffer);
    expect(got).toMatchObject({ code });
    expect((got as { message: string }).message).toContain(says);
  });
});

import { describeCache } from "./conformance.ts";
import { memoryCache } from "./memory-cache.ts";

describeCache("memory-cache", () => ({ adapter: memoryCache() }));

import type { Readable } from "node:stream";
import { getManyValues, isMany, none } from "stream-chain/defs.js";
import { jsonParser, type Token } from "stream-json/parser.js";
import { OcipatchError } from "../../errors.js";

export type { Token };

/**
 * Feed a byte stream through stream-json's tokenizer, calling `onToken` for
 * every packed token. Memory stays bounded by the largest single token. Throws
 * INVALID_FORMAT (naming `what` and the byte offset) on malformed or truncated
 * JSON, including a document that ends with containers still open.
 */
export async function forEachJsonToken(
  input: Readable,
  what: string,
  onToken: (t: Token) => void,
): Promise<void> {
  const parse = jsonParser({ packValues: true, streamValues: false });
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let offset = 0;
  let depth = 0;
  let values = 0;
  const emit = (out: unknown): void => {
    if (out === none) return;
    const list = isMany(out) ? (getManyValues(out) as Token[]) : [out as Token];
    for (const t of list) {
      switch (t.name) {
        case "startObject":
        case "startArray":
          if (depth === 0) values++;
          depth++;
          break;
        case "endObject":
        case "endArray":
          depth--;
          break;
        case "stringValue":
        case "numberValue":
        case "nullValue":
        case "trueValue":
        case "falseValue":
          if (depth === 0) values++;
          break;
      }
      onToken(t);
    }
  };
  const step = (text: string | typeof none): unknown => {
    try {
      return parse(text as string);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new OcipatchError("INVALID_FORMAT", `${what}: invalid JSON near byte ${offset}: ${msg}`, {
        cause: e,
      });
    }
  };
  const decode = (buf?: Buffer): string => {
    try {
      return buf ? decoder.decode(buf, { stream: true }) : decoder.decode();
    } catch (e) {
      throw new OcipatchError("INVALID_FORMAT", `${what}: invalid UTF-8 near byte ${offset}`, { cause: e });
    }
  };
  for await (const chunk of input) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    emit(step(decode(buf)));
    offset += buf.length;
  }
  emit(step(decode()));
  emit(step(none));
  if (depth !== 0) {
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${what}: truncated JSON (ends after ${offset} bytes inside a value)`,
    );
  }
  if (values === 0) throw new OcipatchError("INVALID_FORMAT", `${what}: empty JSON document`);
}

/**
 * Decoded messages as kflowd's one-line JSON: ", " between members, ": " after keys,
 * every string escaped. Values are strings, numbers, arrays and plain objects.
 */
export type MsgValue = string | number | readonly MsgValue[] | { readonly [key: string]: MsgValue };

export function msgJson(v: MsgValue): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "0";
  if (Array.isArray(v)) return `[${v.map(msgJson).join(", ")}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v)) parts.push(`${JSON.stringify(k)}: ${msgJson(x as MsgValue)}`);
  return `{${parts.join(", ")}}`;
}

const latin = new TextDecoder("utf-8", { fatal: false });

/** Bytes as text (invalid UTF-8 becomes U+FFFD). */
export function bytesText(b: Uint8Array): string {
  return latin.decode(b);
}

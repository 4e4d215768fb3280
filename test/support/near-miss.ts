// Near-misses of a real payload, for the property tests of the senders' adapters: one field
// of the body, or one field of an object inside it (`data`, `event_data`), replaced by
// arbitrary JSON. `pick` (any natural number from fast-check) chooses which.

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** `body` with the field `pick` chooses replaced by `value`; returns the body and the key. */
export function nearMiss(
  body: Record<string, unknown>,
  value: unknown,
  pick: number,
): { body: Record<string, unknown>; key: string } {
  const keys = Object.keys(body);
  const key = keys[pick % keys.length] ?? 'x';
  const nested = body[key];
  if (isObject(nested) && pick % 2 === 0) {
    const inner = Object.keys(nested);
    const innerKey = inner[Math.floor(pick / 2) % Math.max(1, inner.length)] ?? 'x';
    return {
      body: { ...body, [key]: { ...nested, [innerKey]: value } },
      key: `${key}.${innerKey}`,
    };
  }
  return { body: { ...body, [key]: value }, key };
}

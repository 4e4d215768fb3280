/** JSON with object keys in a stable order and buffers (TLS files) as base64; `-` for none. */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const record = v as Record<string, unknown>;
    // JSON.stringify hands a Buffer over as its toJSON(): {type: 'Buffer', data: [...]}.
    if (record['type'] === 'Buffer' && Array.isArray(record['data'])) {
      return Buffer.from(record['data'] as number[]).toString('base64');
    }
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((k) => [k, record[k]]),
    );
  }) as string | undefined;
  return text ?? '-';
}

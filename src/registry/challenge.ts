/** A registry's `WWW-Authenticate` answer to a request without (good) credentials. */
export type Challenge =
  | { readonly scheme: 'basic' }
  | {
      readonly scheme: 'bearer';
      readonly realm: string;
      readonly service: string | undefined;
      /** The scope the registry asks for, e.g. `repository:team/app:pull`. */
      readonly scope: string | undefined;
    };

/**
 * Reads `Basic realm="x"` or `Bearer realm="…",service="…",scope="…"` (RFC 7235
 * auth-params, quoted or not; the Docker token spec's fields). Undefined for anything
 * else, or a Bearer challenge without a realm.
 */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = (match[1] ?? '').toLowerCase();
  if (scheme === 'basic') return { scheme: 'basic' };
  if (scheme !== 'bearer') return undefined;
  const params = new Map<string, string>();
  const param = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/gs;
  for (const m of (match[2] ?? '').matchAll(param)) {
    const value = m[2] === undefined ? (m[3] ?? '') : m[2].replace(/\\(.)/g, '$1');
    params.set((m[1] ?? '').toLowerCase(), value);
  }
  const realm = params.get('realm');
  if (realm === undefined || realm === '') return undefined;
  return { scheme: 'bearer', realm, service: params.get('service'), scope: params.get('scope') };
}

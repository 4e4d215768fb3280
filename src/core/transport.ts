import { EnvHttpProxyAgent, Pool, ProxyAgent, type Dispatcher } from 'undici';
import { redactUrl } from './redact.ts';

/** Per-endpoint TLS, with the PEM files already read (config/endpoint.ts reads them). */
export interface TlsSettings {
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  readonly insecureSkipVerify: boolean;
}

export interface Transport {
  readonly dispatcher: Dispatcher;
  /** How requests leave, for the start-up log: `direct`, `proxy <url>` or `environment proxy`. */
  readonly via: string;
}

/** The proxy the environment names for `url` (curl's rules: lower case wins, then upper). */
export function environmentProxy(env: NodeJS.ProcessEnv): {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
} {
  const pick = (name: string): string => env[name] ?? env[name.toUpperCase()] ?? '';
  return {
    httpProxy: pick('http_proxy'),
    httpsProxy: pick('https_proxy'),
    noProxy: pick('no_proxy'),
  };
}

/**
 * The undici dispatcher one endpoint sends with. Direct: a keep-alive Pool to the
 * endpoint's origin. With `proxy` set: through that proxy (CONNECT, also for http:// as
 * undici does). Otherwise, if the environment names a proxy (`HTTPS_PROXY`, `HTTP_PROXY`,
 * `NO_PROXY`, as the registry's Go client honours them): undici's EnvHttpProxyAgent. The
 * endpoint's TLS settings apply to the endpoint's connection in every case.
 */
export function buildTransport(opts: {
  url: URL;
  tls: TlsSettings | undefined;
  proxy: string | undefined;
  env: NodeJS.ProcessEnv;
  connections: number;
  connectTimeoutMs: number;
}): Transport {
  const tls = opts.tls;
  const connect = {
    ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls?.key === undefined ? {} : { key: tls.key }),
    ...(tls?.insecureSkipVerify === true ? { rejectUnauthorized: false } : {}),
    timeout: opts.connectTimeoutMs,
  };
  const pool = {
    connections: opts.connections,
    keepAliveTimeout: 30_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  };
  if (opts.proxy !== undefined) {
    return {
      dispatcher: new ProxyAgent({ ...pool, uri: opts.proxy, requestTls: connect }),
      // Redacted like an endpoint URL: a proxy URL may carry credentials.
      via: `proxy ${redactUrl(opts.proxy)}`,
    };
  }
  const env = environmentProxy(opts.env);
  if (env.httpProxy !== '' || env.httpsProxy !== '') {
    return {
      dispatcher: new EnvHttpProxyAgent({ ...pool, ...env, connect, requestTls: connect }),
      via: 'environment proxy',
    };
  }
  return { dispatcher: new Pool(opts.url.origin, { ...pool, connect }), via: 'direct' };
}

// What applying a config came to, as the reload command, SIGHUP and the admin API report it.

/** What applying a config changed, by endpoint name. */
export interface ApplyReport {
  readonly added: readonly string[];
  /** Changed endpoints and the keys that changed. */
  readonly changed: readonly { readonly name: string; readonly keys: readonly string[] }[];
  readonly removed: readonly string[];
}

/** What one reload came to; `problems` names every reason it failed. */
export type ReloadOutcome =
  | ({ readonly ok: true; readonly hash: string } & ApplyReport)
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * The User-Agent of the relay's requests to registries. Distribution notifies a `pull` for
 * every manifest read, the relay's own included; ingest knows those by this prefix and
 * does not relay them (they are counted as `relay_ingest_own_reads_total`).
 */
export const RELAY_USER_AGENT = 'registry-relay/0.1 (image facts)';
export const RELAY_USER_AGENT_PREFIX = 'registry-relay/';

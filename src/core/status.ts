import { STATUS_CODES } from 'node:http';

/** `"200 OK"`, as Go's `resp.Status` reads and the registry's `Statuses` map is keyed. */
export function statusText(status: number): string {
  const reason = STATUS_CODES[status];
  return reason === undefined ? String(status) : `${status} ${reason}`;
}

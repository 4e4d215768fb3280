import type Database from 'better-sqlite3';
import type { TagPersistence, TagRecord } from '../storage/tags.ts';

export const TAGS_SCHEMA = `
CREATE TABLE IF NOT EXISTS tags (
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  by TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (registry, repository, tag)
) WITHOUT ROWID;
`;

interface Row {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  by: string;
  deleted: number;
  at: number;
}

/** The journal's table of what the relay knows of the registries' tags (reconciliation). */
export class JournalTags implements TagPersistence {
  readonly #put: Database.Statement<[string, string, string, string, string, number, number]>;
  readonly #remove: Database.Statement<[string, string, string]>;
  readonly #all: Database.Statement<[], Row>;

  constructor(db: Database.Database) {
    db.exec(TAGS_SCHEMA);
    this.#put = db.prepare(
      'INSERT OR REPLACE INTO tags (registry, repository, tag, digest, by, deleted, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.#remove = db.prepare('DELETE FROM tags WHERE registry = ? AND repository = ? AND tag = ?');
    this.#all = db.prepare('SELECT registry, repository, tag, digest, by, deleted, at FROM tags');
  }

  load(): TagRecord[] {
    return this.#all.all().map((r) => ({
      registry: r.registry,
      repository: r.repository,
      tag: r.tag,
      digest: r.digest,
      by: r.by === 'reconcile' ? 'reconcile' : 'event',
      deleted: r.deleted === 1,
      at: r.at,
    }));
  }

  put(r: TagRecord): void {
    this.#put.run(r.registry, r.repository, r.tag, r.digest, r.by, r.deleted ? 1 : 0, r.at);
  }

  remove(registry: string, repository: string, tag: string): void {
    this.#remove.run(registry, repository, tag);
  }
}

import type { RelayEvent } from './event.ts';

/**
 * What the relay reads from a registry about a pushed manifest, added to the event under
 * `relay.image`. Facts about a digest's content never change; what refers to it
 * (signatures, SBOMs, attestations) does, so referrers are read when an event asks.
 */
export interface ImageFacts {
  /** The configured registry the facts were read from. */
  readonly registry: string;
  readonly digest: string;
  readonly mediaType?: string | undefined;
  /** The manifest's `artifactType`, else its config's media type when that is not an image config. */
  readonly artifactType?: string | undefined;
  /** Bytes: config + layers for an image; the sum over its images for an index. */
  readonly size?: number | undefined;
  /** An index: each child's platform and digest. An image: its own platform (one entry). */
  readonly platforms?: readonly Platform[] | undefined;
  /** The image config's `created`. */
  readonly created?: string | undefined;
  /** The image config's `config.Labels`. */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** The manifest's `annotations`. */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /** What this manifest refers to (an OCI `subject`, or a cosign tag `sha256-<hex>.sig`). */
  readonly subject?: string | undefined;
  /** For a manifest that refers to another: what kind of referrer it is. */
  readonly refers?: ReferrerKind | undefined;
  /** Whether anything signs it (a cosign or Notation signature among its referrers). */
  readonly signed?: boolean | undefined;
  readonly signatures?: readonly Referrer[] | undefined;
  readonly sboms?: readonly Referrer[] | undefined;
  readonly attestations?: readonly Referrer[] | undefined;
  /** A digest a tag was resolved to by the relay (the sender named only the tag). */
  readonly resolved?: boolean | undefined;
  /** Why some or all facts are missing: the event went on without them. */
  readonly unavailable?: string | undefined;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string | undefined;
  readonly digest?: string | undefined;
}

export type ReferrerKind = 'signature' | 'sbom' | 'attestation' | 'other';

export interface Referrer {
  /** `cosign`, `notation`, `spdx`, `cyclonedx`, `in-toto`, or the artifact type. */
  readonly format: string;
  readonly digest: string;
  readonly artifactType?: string | undefined;
  /** Where it was found: the referrers API, or a tag of the referrers tag schema. */
  readonly via: 'referrers-api' | 'tag';
}

/** The facts an endpoint can ask for (`enrich.facts`). */
export const FACTS = [
  'mediaType',
  'artifactType',
  'size',
  'platforms',
  'created',
  'labels',
  'annotations',
  'subject',
  'referrers',
] as const;
export type FactName = (typeof FACTS)[number];

/** What an endpoint's enrichment stage asks of the registries for one event. */
export interface FactsWanted {
  readonly facts: ReadonlySet<FactName>;
  /** How long the endpoint waits for them (ms) before it sends the event without; undefined: the registry's `wait`. */
  readonly waitMs: number | undefined;
}

/** One event made ready for an endpoint: its digest resolved, facts added, or why not. */
export type Prepared =
  | {
      readonly kind: 'event';
      readonly event: RelayEvent;
      /** The facts it carries now, for the endpoint's fact filter (undefined: none read). */
      readonly facts: ImageFacts | undefined;
    }
  | {
      /** A re-send of an event already accepted under another id: acknowledged, not sent. */
      readonly kind: 'duplicate';
      readonly of: string;
    };

/**
 * The seam between an endpoint's pipeline and the registries: the endpoint stage asks,
 * the registry layer answers, and the relay wires one to the other.
 */
export interface ImageFactsSource {
  /**
   * The event as this endpoint sends it: a tag-only push resolved to its digest (and its
   * id derived from it), and the facts `wanted` added under `relay.image`. Never rejects
   * for a registry's sake: past the wait, the event goes without and says why.
   */
  prepare(event: RelayEvent, wanted: FactsWanted | undefined): Promise<Prepared>;
}

/**
 * Ids of tag-only pushes that a configured registry serves are made unique per request at
 * ingest (`<id>~<n>`): the sender's re-send and a re-push of the tag look the same until
 * the tag is resolved, and the id derived from the digest then tells them apart.
 */
const PROVISIONAL = '~';

export const provisionalId = (id: string, unique: string): string => `${id}${PROVISIONAL}${unique}`;
export const isProvisional = (id: string): boolean => id.includes(PROVISIONAL);
/** The id the event would have had without a registry to resolve its tag. */
export const acceptedId = (id: string): string => {
  const at = id.indexOf(PROVISIONAL);
  return at < 0 ? id : id.slice(0, at);
};

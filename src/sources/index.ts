import type { Adapter, SourceType } from './adapter.ts';
import { artifactory } from './artifactory.ts';
import { dockerhub } from './dockerhub.ts';
import { envelope } from './envelope.ts';
import { github } from './github.ts';
import { harbor } from './harbor.ts';
import { quay } from './quay.ts';
import { zot } from './zot.ts';

/** One adapter per sender type. */
export const ADAPTERS: Readonly<Record<SourceType, Adapter>> = {
  harbor,
  quay,
  dockerhub,
  gitlab: envelope,
  github,
  zot,
  artifactory,
  distribution: envelope,
};

// Docker Hub: repository webhooks (pushes only).
// https://docs.docker.com/docker-hub/repos/manage/webhooks/
import {
  derivedId,
  isoTime,
  object,
  optionalString,
  registryEvent,
  string,
  type Adapter,
} from './adapter.ts';

/**
 * One push event: repository, tag, pusher and push time. Docker Hub sends no digest and no
 * id; the id is derived from repository, tag and push time.
 */
export const dockerhub: Adapter = (req) => {
  const body = object(req.body, 'body');
  const push = object(body['push_data'], 'push_data');
  const repo = object(body['repository'], 'repository');
  const repository = string(repo['repo_name'], 'repository.repo_name');
  const tag = optionalString(push['tag']);
  return {
    kind: 'events',
    events: [
      registryEvent({
        id: derivedId('dockerhub', repository, tag, push['pushed_at']),
        timestamp: isoTime(push['pushed_at']) ?? new Date(req.receivedAt).toISOString(),
        action: 'push',
        repository,
        tag,
        actor: optionalString(push['pusher']),
        host: 'registry-1.docker.io',
      }),
    ],
  };
};

import { randomUUID } from 'node:crypto';

interface Version {
  value: string | undefined;
  stages: Set<string>;
  created: number;
}

/**
 * Versioned secrets with staging labels, as Secrets Manager keeps them, for the secrets that rotate
 * locally (the token signing key set). Each label sits on at most one version; a version with no
 * label is dropped. `onCurrent` is told every new AWSCURRENT value (the runtime persists it).
 */
export class LocalSecretVersions {
  private readonly secrets = new Map<string, Map<string, Version>>();

  constructor(private readonly onCurrent?: (id: string, value: string) => void) {}

  has(id: string): boolean {
    return this.secrets.has(id);
  }

  init(id: string, value: string): void {
    this.secrets.set(
      id,
      new Map([[randomUUID(), { value, stages: new Set(['AWSCURRENT']), created: Date.now() }]]),
    );
  }

  /** Version ids → labels (DescribeSecret's `VersionIdsToStages`). */
  stages(id: string): Record<string, string[]> | undefined {
    const versions = this.secrets.get(id);
    if (!versions) return undefined;
    return Object.fromEntries([...versions].map(([v, x]) => [v, [...x.stages]]));
  }

  /** The version a GetSecretValue names (by id and/or label; AWSCURRENT when neither). */
  get(
    id: string,
    versionId?: string,
    stage?: string,
  ): { versionId: string; value: string; stages: string[] } | undefined {
    const versions = this.secrets.get(id);
    if (!versions) return undefined;
    const label = stage ?? (versionId ? undefined : 'AWSCURRENT');
    for (const [v, x] of versions) {
      if (versionId && v !== versionId) continue;
      if (label && !x.stages.has(label)) continue;
      return x.value === undefined ? undefined : { versionId: v, value: x.value, stages: [...x.stages] };
    }
    return undefined;
  }

  /** PutSecretValue: a new version under `token` (the same token and value again is a no-op). */
  put(id: string, token: string, value: string, stages: string[]): void {
    const versions = this.secrets.get(id);
    if (!versions) throw new Error('no such secret');
    const existing = versions.get(token);
    if (existing?.value !== undefined && existing.value !== value) {
      throw new Error(`version ${token} already holds a different value`);
    }
    for (const stage of stages) this.moveLabel(versions, stage, token);
    const version = versions.get(token) ?? { value, stages: new Set<string>(), created: Date.now() };
    version.value = value;
    for (const stage of stages) version.stages.add(stage);
    versions.set(token, version);
    if (stages.includes('AWSCURRENT')) this.onCurrent?.(id, value);
    this.prune(versions);
  }

  /** What Secrets Manager does before calling a rotation function: an empty AWSPENDING version. */
  startRotation(id: string): string {
    const versions = this.secrets.get(id);
    if (!versions) throw new Error('no such secret');
    const token = randomUUID();
    this.moveLabel(versions, 'AWSPENDING', token);
    versions.set(token, { value: undefined, stages: new Set(['AWSPENDING']), created: Date.now() });
    this.prune(versions); // an earlier rotation that failed leaves its empty version behind
    return token;
  }

  /** UpdateSecretVersionStage; moving AWSCURRENT leaves AWSPREVIOUS on the old version and clears AWSPENDING. */
  updateStage(id: string, stage: string, moveTo?: string, removeFrom?: string): void {
    const versions = this.secrets.get(id);
    if (!versions) throw new Error('no such secret');
    if (removeFrom) {
      const from = versions.get(removeFrom);
      if (!from?.stages.has(stage)) throw new Error(`${stage} is not on version ${removeFrom}`);
    }
    if (moveTo) {
      const to = versions.get(moveTo);
      if (!to || to.value === undefined) throw new Error(`version ${moveTo} does not exist`);
      const holder = [...versions].find(([, x]) => x.stages.has(stage))?.[0];
      if (holder && holder !== moveTo && holder !== removeFrom) {
        throw new Error(`${stage} is on version ${holder}: name it in RemoveFromVersionId`);
      }
      if (stage === 'AWSCURRENT' && holder && holder !== moveTo)
        this.moveLabel(versions, 'AWSPREVIOUS', holder);
      this.moveLabel(versions, stage, moveTo);
      to.stages.add(stage);
      if (stage === 'AWSCURRENT') {
        to.stages.delete('AWSPENDING');
        this.onCurrent?.(id, to.value);
      }
    } else if (removeFrom) {
      versions.get(removeFrom)?.stages.delete(stage);
    }
    this.prune(versions);
  }

  private moveLabel(versions: Map<string, Version>, stage: string, to: string): void {
    for (const [v, x] of versions) if (v !== to) x.stages.delete(stage);
    versions.get(to)?.stages.add(stage);
  }

  private prune(versions: Map<string, Version>): void {
    for (const [v, x] of versions) if (x.stages.size === 0) versions.delete(v);
  }
}

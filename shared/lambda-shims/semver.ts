/**
 * Stand-in for `semver` inside Lambda bundles (an esbuild alias, see `infra/bundle/esbuild.ts`).
 * Its only importers there are `cls-hooked` (a Node.js version check) and the X-Ray SDK's AWS SDK
 * v2 patcher (never used: the hub is on SDK v3); both call `gte` alone, which this implements for
 * release versions. The bundle test fails if anything else imports `semver`. Saves ~29 KB a bundle.
 */
const core = (version: string): number[] => {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) throw new TypeError(`Invalid Version: ${version}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
};

/** True when version `a` is the same as or later than `b` (major.minor.patch; prereleases sort first). */
export function gte(a: string, b: string): boolean {
  const [x, y] = [core(a), core(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! > y[i]!;
  const preA = a.includes('-');
  const preB = b.includes('-');
  return !preA || preB;
}

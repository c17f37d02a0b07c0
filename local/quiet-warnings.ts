/**
 * The AWS SDK warns on every client that its releases after January 2027 need Node 22. Node 20 is
 * supported by this project (engines >=20; Lambda runs 22), so the local tools drop just that warning.
 */
const emit = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning.message;
  if (text.includes('NodeVersionSupportWarning')) return;
  return (emit as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

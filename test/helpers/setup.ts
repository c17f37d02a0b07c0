// The AWS SDK warns on every client that future releases need Node 22; Node 20 is supported here
// (engines >=20) and the warning only drowns test output.
const emit = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning.message;
  if (text.includes('NodeVersionSupportWarning') || text.includes('will require node >=22')) return;
  return (emit as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

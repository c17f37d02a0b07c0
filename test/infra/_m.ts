import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { wiring } from '../../infra/wiring.ts';
import { testApp } from './synth.ts';

const w = {
  ...wiring,
  functions: Object.fromEntries(Object.entries(wiring.functions).map(([n, f]) => [n, { ...f }])),
};
for (const f of Object.values(w.functions))
  if (!existsSync(f.entry)) f.entry = 'test/infra/fixtures/handler.ts';
w.secrets = wiring.secrets;
for (const stage of ['dev', 'prod'] as const) {
  const { app } = testApp(stage, { wiring: w, nag: true, context: { alarmEmail: 'a@b.co' } });
  try {
    app.synth();
    console.log(stage, 'clean');
  } catch (e) {
    const r = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8'));
    for (const p of r.pluginReports)
      for (const v of p.violations)
        console.log(
          stage,
          v.ruleName,
          v.severity,
          v.violatingConstructs.map((c: any) => c.constructPath).join(' '),
        );
  }
}

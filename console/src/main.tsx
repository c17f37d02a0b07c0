import './app.css';
import type { ComponentChildren } from 'preact';
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { refresh, resumeSession, type Session, signIn, signOut } from './auth.ts';

/**
 * The Switchboard operator console: one page, hash routes, Preact. Every state change asks for
 * confirmation in a modal dialog and reports its result in a live region.
 */
// biome-ignore lint/suspicious/noExplicitAny: API answers are rendered as they come; the API validates them.
type Json = Record<string, any>;
interface Config {
  apiUrl: string;
}

let config: Config = { apiUrl: '' };
let session: Session | undefined;

async function api(path: string, init: { method?: string; body?: unknown } = {}): Promise<Json> {
  const send = () =>
    fetch(`${config.apiUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${session?.accessToken ?? ''}`,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  let res = await send();
  if (res.status === 401) {
    session = await refresh(config.apiUrl);
    if (!session) {
      location.reload();
      throw new Error('Signed out.');
    }
    res = await send();
  }
  const body = (await res.json().catch(() => ({}))) as Json;
  if (!res.ok) throw new Error(body.message ?? `Request failed (${res.status}).`);
  return body;
}

const STATUSES = [
  'RECEIVED',
  'SCREENING',
  'ACCEPTED',
  'NEEDS_REVIEW',
  'REJECTED',
  'BILLING_PROVISIONED',
  'FULFILLED',
  'ERROR',
];
const fmt = (iso?: string) => (iso ? new Date(iso).toLocaleString() : '—');
const Status = ({ value }: { value: string }) => <span class={`status ${value}`}>{value}</span>;

function useRoute(): string {
  const [hash, setHash] = useState(location.hash || '#/dashboard');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/dashboard');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash.slice(1);
}

/** Loads `path` (re-loads when `path` or `version` changes). */
function useApi(path: string | undefined, version = 0) {
  const [state, setState] = useState<{ data?: Json; error?: string; loading: boolean }>({ loading: true });
  useEffect(() => {
    if (!path) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api(path).then(
      (data) => live && setState({ data, loading: false }),
      (e: Error) => live && setState({ error: e.message, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, version]);
  return state;
}

// ---- confirmation dialog and result messages -------------------------------------------------

interface Ask {
  title: string;
  text: string;
  confirm: string;
  reason?: boolean;
  run: (reason: string) => Promise<string>;
}
let openAsk: (a: Ask) => void = () => {};
let announce: (text: string, error?: boolean) => void = () => {};

function Confirm() {
  const ref = useRef<HTMLDialogElement>(null);
  const [ask, setAsk] = useState<Ask>();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  openAsk = (a) => {
    setAsk(a);
    setReason('');
    setError('');
    setTimeout(() => ref.current?.showModal(), 0);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!ask) return;
    if (ask.reason && !reason.trim()) {
      setError('A reason is required.');
      return;
    }
    setBusy(true);
    try {
      const result = await ask.run(reason.trim());
      ref.current?.close();
      announce(result);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onClose={() => setAsk(undefined)}>
      {ask && (
        <form onSubmit={submit}>
          <h2 id="confirm-title">{ask.title}</h2>
          <p>{ask.text}</p>
          {ask.reason && (
            <label>
              Reason (recorded in the order history and the audit trail)
              <textarea rows={3} required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
            </label>
          )}
          {error && (
            <p class="notice error" role="alert">
              {error}
            </p>
          )}
          <div class="actions">
            <button type="button" class="secondary" onClick={() => ref.current?.close()}>
              Cancel
            </button>
            <button type="submit" disabled={busy}>
              {ask.confirm}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

function Announcer() {
  const [msg, setMsg] = useState<{ text: string; error?: boolean }>();
  announce = (text, error) => setMsg({ text, ...(error ? { error } : {}) });
  return (
    <div role="status" aria-live="polite">
      {msg && <p class={`notice${msg.error ? ' error' : ''}`}>{msg.text}</p>}
    </div>
  );
}

const Loading = ({
  s,
  children,
}: {
  s: { loading: boolean; error?: string; data?: Json };
  children: () => ComponentChildren;
}) =>
  s.error ? (
    <p class="notice error" role="alert">
      {s.error}
    </p>
  ) : !s.data ? (
    <p class="muted">Loading…</p>
  ) : (
    <>{children()}</>
  );

// ---- pages ------------------------------------------------------------------------------------

function Chart({ series }: { series: Array<{ at: string; orders: number; deliveries: number }> }) {
  const w = 720;
  const h = 160;
  const max = Math.max(1, ...series.flatMap((p) => [p.orders, p.deliveries]));
  const bw = w / Math.max(1, series.length);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${w} ${h + 20}`} width="100%" role="img" aria-labelledby="chart-title">
        <title id="chart-title">Orders (blue) and webhook deliveries (grey) per interval</title>
        {series.map((p, i) => (
          <g key={p.at}>
            <rect
              x={i * bw + 2}
              y={h - (p.deliveries / max) * h}
              width={bw / 2 - 2}
              height={(p.deliveries / max) * h}
              fill="#9ca3af"
            />
            <rect
              x={i * bw + bw / 2}
              y={h - (p.orders / max) * h}
              width={bw / 2 - 2}
              height={(p.orders / max) * h}
              fill="#1d4ed8"
            />
          </g>
        ))}
        <line x1="0" x2={w} y1={h} y2={h} stroke="#555" />
      </svg>
      <figcaption class="muted">
        Orders (blue) and deliveries (grey) per interval, {fmt(series[0]?.at)} to now; peak {max}.
      </figcaption>
    </figure>
  );
}

function Dashboard() {
  const [window, setWindow] = useState<'24h' | '7d'>('24h');
  const s = useApi(`/v1/ops/dashboard?window=${window}`);
  return (
    <>
      <h2>Dashboard</h2>
      <label style={{ width: '12rem' }}>
        Window
        <select value={window} onChange={(e) => setWindow(e.currentTarget.value as '24h' | '7d')}>
          <option value="24h">Last 24 hours</option>
          <option value="7d">Last 7 days</option>
        </select>
      </label>
      <Loading s={s}>
        {() => {
          const d = s.data!;
          return (
            <>
              <div class="cards" style={{ marginTop: '.8rem' }}>
                <div class="card">
                  <div class="muted">Orders in window</div>
                  <div class="big">{d.orders.total}</div>
                </div>
                <div class="card">
                  <div class="muted">Review queue</div>
                  <div class="big" data-testid="review-size">
                    <a href="#/review">{d.reviewQueue}</a>
                  </div>
                </div>
                <div class="card">
                  <div class="muted">Dead letters</div>
                  <div class="big">{d.deadLetters.reduce((n: number, q: Json) => n + (q.depth ?? 0), 0)}</div>
                </div>
                <div class="card">
                  <div class="muted">Delivery success</div>
                  <div class="big">
                    {d.deliveries.successRate === null
                      ? '—'
                      : `${(d.deliveries.successRate * 100).toFixed(1)} %`}
                  </div>
                </div>
                <div class="card">
                  <div class="muted">Last billing run</div>
                  <div class="big">{d.lastBillingRun ? <Status value={d.lastBillingRun.status} /> : '—'}</div>
                  <div class="muted">{fmt(d.lastBillingRun?.createdAt)}</div>
                </div>
              </div>
              <h3>Orders and deliveries over time</h3>
              <Chart series={d.series} />
              <h3>Orders per status</h3>
              <table>
                <caption class="muted">Orders created in the window, by current status</caption>
                <thead>
                  <tr>
                    <th scope="col">Status</th>
                    <th scope="col">Orders</th>
                  </tr>
                </thead>
                <tbody>
                  {STATUSES.map((st) => (
                    <tr key={st}>
                      <td>
                        <a href={`#/orders?status=${st}`}>
                          <Status value={st} />
                        </a>
                      </td>
                      <td>{d.orders.byStatus[st] ?? 0}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <h3>Dead-letter queues</h3>
              <DlqTable items={d.deadLetters} />
            </>
          );
        }}
      </Loading>
    </>
  );
}

const DlqTable = ({ items, actions }: { items: Json[]; actions?: (q: Json) => ComponentChildren }) => (
  <table>
    <thead>
      <tr>
        <th scope="col">Queue</th>
        <th scope="col">Messages</th>
        <th scope="col">Oldest</th>
        {actions && <th scope="col">Actions</th>}
      </tr>
    </thead>
    <tbody>
      {items.map((q) => (
        <tr key={q.name}>
          <td>{q.name}</td>
          <td>{q.depth ?? 'unavailable'}</td>
          <td>{q.oldestAgeSeconds == null ? '—' : `${Math.round(q.oldestAgeSeconds / 60)} min`}</td>
          {actions && <td>{actions(q)}</td>}
        </tr>
      ))}
    </tbody>
  </table>
);

function Pager({
  cursor,
  onNext,
  onFirst,
  atStart,
}: {
  cursor?: string;
  onNext: () => void;
  onFirst: () => void;
  atStart: boolean;
}) {
  return (
    <div class="pager">
      <button type="button" class="secondary" disabled={atStart} onClick={onFirst}>
        First page
      </button>
      <button type="button" class="secondary" disabled={!cursor} onClick={onNext}>
        Next page
      </button>
    </div>
  );
}

function Orders({ query }: { query: URLSearchParams }) {
  const [filters, setFilters] = useState<Record<string, string>>(() => Object.fromEntries(query));
  const [cursor, setCursor] = useState<string>();
  const params = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
  if (cursor) params.set('cursor', cursor);
  params.set('limit', '20');
  const s = useApi(`/v1/ops/orders?${params}`);
  const field = (name: string) => ({
    value: filters[name] ?? '',
    name,
  });
  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setCursor(undefined);
    setFilters(Object.fromEntries([...form].map(([k, v]) => [k, String(v)])));
  };
  return (
    <>
      <h2>Orders</h2>
      <form class="filters" onSubmit={apply} aria-label="Order filters">
        <label>
          Search (channel order id or company)
          <input type="search" {...field('q')} />
        </label>
        <label>
          Status
          <select {...field('status')}>
            <option value="">Any</option>
            {STATUSES.map((st) => (
              <option key={st} value={st}>
                {st}
              </option>
            ))}
          </select>
        </label>
        <label>
          Channel
          <select {...field('channel')}>
            <option value="">Any</option>
            <option value="api">api</option>
            <option value="saashop">saashop</option>
            <option value="appdirect">appdirect</option>
          </select>
        </label>
        <label>
          Tenant
          <input {...field('tenant')} size={10} />
        </label>
        <label>
          From
          <input type="date" {...field('from')} />
        </label>
        <label>
          To
          <input type="date" {...field('to')} />
        </label>
        <button type="submit">Apply filters</button>
      </form>
      <Loading s={s}>
        {() => (
          <>
            <OrderTable items={s.data!.items} />
            {s.data!.partial && (
              <p class="muted">Nothing matched in the entries read so far; the next page continues.</p>
            )}
            <Pager
              cursor={s.data!.cursor}
              atStart={!cursor}
              onNext={() => setCursor(s.data!.cursor)}
              onFirst={() => setCursor(undefined)}
            />
          </>
        )}
      </Loading>
    </>
  );
}

const OrderTable = ({ items, actions }: { items: Json[]; actions?: (o: Json) => ComponentChildren }) =>
  items.length === 0 ? (
    <p class="muted">No orders match.</p>
  ) : (
    <table>
      <thead>
        <tr>
          <th scope="col">Order</th>
          <th scope="col">Channel order id</th>
          <th scope="col">Company</th>
          <th scope="col">Tenant</th>
          <th scope="col">Channel</th>
          <th scope="col">Status</th>
          <th scope="col">Created</th>
          {actions && <th scope="col">Decision</th>}
        </tr>
      </thead>
      <tbody>
        {items.map((o) => (
          <tr key={o.orderId}>
            <td>
              <a href={`#/orders/${o.orderId}`}>{o.orderId}</a>
            </td>
            <td>{o.channelOrderId}</td>
            <td>{o.company}</td>
            <td>{o.tenant}</td>
            <td>{o.channel}</td>
            <td>
              <Status value={o.status} />
            </td>
            <td>{fmt(o.createdAt)}</td>
            {actions && <td>{actions(o)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );

const decide = (o: Json, decision: 'clear' | 'reject', done: () => void) =>
  openAsk({
    title: `${decision === 'clear' ? 'Clear' : 'Reject'} order ${o.channelOrderId}`,
    text:
      decision === 'clear'
        ? `${o.company} will be accepted and provisioned (Zuora, Salesforce, licence).`
        : `${o.company} will be refused; the channel is told the order was rejected.`,
    confirm: decision === 'clear' ? 'Clear order' : 'Reject order',
    reason: true,
    run: async (reason) => {
      const r = await api(`/v1/ops/orders/${o.orderId}/${decision}`, { method: 'POST', body: { reason } });
      done();
      return `Order ${o.channelOrderId} is now ${r.status}.`;
    },
  });

function Review() {
  const [version, setVersion] = useState(0);
  const s = useApi('/v1/ops/review-queue?limit=50', version);
  const reload = () => setVersion((v) => v + 1);
  return (
    <>
      <h2>Review queue</h2>
      <p class="muted">Possible restricted-party matches wait here for an operator; oldest first.</p>
      <button type="button" class="secondary" onClick={reload}>
        Refresh
      </button>
      <Loading s={s}>
        {() => (
          <OrderTable
            items={s.data!.items}
            actions={(o) => (
              <>
                <button type="button" onClick={() => decide(o, 'clear', reload)}>
                  Clear
                </button>{' '}
                <button type="button" class="danger" onClick={() => decide(o, 'reject', reload)}>
                  Reject
                </button>
              </>
            )}
          />
        )}
      </Loading>
    </>
  );
}

const replay = (d: Json, done: () => void) =>
  openAsk({
    title: `Replay delivery ${d.id}`,
    text: `The ${d.eventType} event is sent again to endpoint ${d.endpointId} of ${d.tenant}, with the same webhook-id.`,
    confirm: 'Replay',
    run: async () => {
      const r = await api(`/v1/ops/webhooks/deliveries/${d.id}/replay`, { method: 'POST' });
      done();
      return `Delivery ${r.id} is ${r.status} again.`;
    },
  });

function OrderDetail({ id }: { id: string }) {
  const [version, setVersion] = useState(0);
  const s = useApi(`/v1/ops/orders/${encodeURIComponent(id)}`, version);
  return (
    <Loading s={s}>
      {() => {
        const o = s.data!;
        return (
          <>
            <h2>
              Order {o.channelOrderId} <Status value={o.status} />
            </h2>
            {o.status === 'NEEDS_REVIEW' && (
              <p>
                <button type="button" onClick={() => decide(o, 'clear', () => setVersion((v) => v + 1))}>
                  Clear
                </button>{' '}
                <button
                  type="button"
                  class="danger"
                  onClick={() => decide(o, 'reject', () => setVersion((v) => v + 1))}
                >
                  Reject
                </button>{' '}
                <button type="button" class="secondary" onClick={() => setVersion((v) => v + 1)}>
                  Refresh
                </button>
              </p>
            )}
            {o.status !== 'NEEDS_REVIEW' && (
              <button type="button" class="secondary" onClick={() => setVersion((v) => v + 1)}>
                Refresh
              </button>
            )}
            <dl class="facts">
              <dt>Order id</dt>
              <dd>{o.orderId}</dd>
              <dt>Tenant / channel</dt>
              <dd>
                {o.tenant} / {o.channel}
              </dd>
              <dt>Company</dt>
              <dd>
                {o.sellTo.company} ({o.sellTo.city}, {o.sellTo.country})
              </dd>
              <dt>Contact</dt>
              <dd>
                {o.sellTo.contact.name} &lt;{o.sellTo.contact.email}&gt;
              </dd>
              <dt>Partner</dt>
              <dd>{o.partner.name}</dd>
              <dt>Lines</dt>
              <dd>{o.lines.map((l: Json) => `${l.quantity} × ${l.productCode} (${l.unit})`).join(', ')}</dd>
              {Object.entries(o.downstream as Json).map(([k, v]) => (
                <>
                  <dt>{k}</dt>
                  <dd>{String(v)}</dd>
                </>
              ))}
              {o.error && (
                <>
                  <dt>Error</dt>
                  <dd>
                    {o.error.stage}:{' '}
                    {o.error.code
                      ? `${o.error.code}${o.error.partnerCode ? ` (${o.error.partnerCode})` : ''} — `
                      : ''}
                    {o.error.detail ?? o.error.reason}
                  </dd>
                </>
              )}
            </dl>
            <h3>Timeline</h3>
            <ol class="timeline">
              {o.history.map((h: Json, i: number) => (
                <li key={i}>
                  {fmt(h.at)} — <Status value={h.status} /> {h.reason && <span>— {h.reason}</span>}
                </li>
              ))}
            </ol>
            {o.screening && (
              <>
                <h3>Screening</h3>
                <p>
                  Outcome <strong>{o.screening.outcome}</strong> by {o.screening.provider} at{' '}
                  {fmt(o.screening.screenedAt)}
                </p>
                {o.screening.evidence.length > 0 && (
                  <table>
                    <caption class="muted">Evidence (operators only; channels see the outcome)</caption>
                    <thead>
                      <tr>
                        <th scope="col">List</th>
                        <th scope="col">Entry</th>
                        <th scope="col">Matched name</th>
                        <th scope="col">Score</th>
                        <th scope="col">Countries</th>
                        <th scope="col">Reason</th>
                      </tr>
                    </thead>
                    <tbody>
                      {o.screening.evidence.map((e: Json) => (
                        <tr key={e.entryId}>
                          <td>{e.list}</td>
                          <td>{e.entryName}</td>
                          <td>{e.matchedName}</td>
                          <td>{e.score.toFixed(2)}</td>
                          <td>{e.countries.join(', ')}</td>
                          <td>{e.reason}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </>
            )}
            <h3>Events</h3>
            <ul>
              {o.events.map((e: Json, i: number) => (
                <li key={i}>
                  {fmt(e.at)} — <code>{e.type}</code>
                </li>
              ))}
            </ul>
            <h3>Webhook deliveries</h3>
            <DeliveryTable items={o.deliveries} onReplay={(d) => replay(d, () => setVersion((v) => v + 1))} />
          </>
        );
      }}
    </Loading>
  );
}

const DeliveryTable = ({ items, onReplay }: { items: Json[]; onReplay: (d: Json) => void }) =>
  items.length === 0 ? (
    <p class="muted">No deliveries.</p>
  ) : (
    <table>
      <thead>
        <tr>
          <th scope="col">Delivery</th>
          <th scope="col">Tenant</th>
          <th scope="col">Event</th>
          <th scope="col">Status</th>
          <th scope="col">Attempts</th>
          <th scope="col">Last answer</th>
          <th scope="col">Action</th>
        </tr>
      </thead>
      <tbody>
        {items.map((d) => (
          <tr key={d.id}>
            <td>{d.id}</td>
            <td>{d.tenant}</td>
            <td>{d.eventType}</td>
            <td>
              <Status value={d.status} />
            </td>
            <td>{d.attemptCount}</td>
            <td>{d.lastStatusCode ?? d.lastError ?? '—'}</td>
            <td>
              {d.status !== 'pending' && (
                <button
                  type="button"
                  class="secondary"
                  onClick={() => onReplay(d)}
                  aria-label={`Replay delivery ${d.id}`}
                >
                  Replay
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );

function Webhooks() {
  const [status, setStatus] = useState('failed');
  const [tenant, setTenant] = useState('');
  const [version, setVersion] = useState(0);
  const [cursor, setCursor] = useState<string>();
  const q = new URLSearchParams({
    limit: '25',
    ...(status ? { status } : {}),
    ...(tenant ? { tenant } : {}),
    ...(cursor ? { cursor } : {}),
  });
  const deliveries = useApi(`/v1/ops/webhooks/deliveries?${q}`, version);
  const endpoints = useApi('/v1/ops/webhooks/endpoints?limit=100');
  return (
    <>
      <h2>Webhooks</h2>
      <h3>Deliveries</h3>
      <form class="filters" aria-label="Delivery filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select
            value={status}
            onChange={(e) => {
              setCursor(undefined);
              setStatus(e.currentTarget.value);
            }}
          >
            <option value="">Any</option>
            <option value="failed">failed</option>
            <option value="pending">pending</option>
            <option value="succeeded">succeeded</option>
            <option value="cancelled">cancelled</option>
            <option value="skipped">skipped</option>
          </select>
        </label>
        <label>
          Tenant
          <input
            value={tenant}
            size={10}
            onChange={(e) => {
              setCursor(undefined);
              setTenant(e.currentTarget.value.trim());
            }}
          />
        </label>
        <button type="button" class="secondary" onClick={() => setVersion((v) => v + 1)}>
          Refresh
        </button>
      </form>
      <Loading s={deliveries}>
        {() => (
          <>
            <DeliveryTable
              items={deliveries.data!.items}
              onReplay={(d) => replay(d, () => setVersion((v) => v + 1))}
            />
            <Pager
              cursor={deliveries.data!.cursor}
              atStart={!cursor}
              onNext={() => setCursor(deliveries.data!.cursor)}
              onFirst={() => setCursor(undefined)}
            />
          </>
        )}
      </Loading>
      <h3>Endpoints</h3>
      <Loading s={endpoints}>
        {() => (
          <table>
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">Tenant</th>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {endpoints.data!.items.map((e: Json) => (
                <tr key={e.id}>
                  <td>{e.id}</td>
                  <td>{e.tenant}</td>
                  <td>{e.url}</td>
                  <td>{e.eventTypes.join(', ')}</td>
                  <td>
                    <Status value={e.status} />{' '}
                    {e.failingSince && <span class="muted">failing since {fmt(e.failingSince)}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loading>
    </>
  );
}

function DeadLetters() {
  const [version, setVersion] = useState(0);
  const [peek, setPeek] = useState<Json>();
  const s = useApi('/v1/ops/dead-letters', version);
  const redrive = (q: Json) =>
    openAsk({
      title: `Redrive ${q.name}`,
      text: `Move the ${q.depth} message(s) of this dead-letter queue back to the ${q.name} queue, where its consumer processes them again.`,
      confirm: 'Redrive',
      run: async () => {
        const r = await api(`/v1/ops/dead-letters/${q.name}/redrive`, { method: 'POST' });
        setVersion((v) => v + 1);
        return `Redrive of ${r.name} started.`;
      },
    });
  return (
    <>
      <h2>Dead letters</h2>
      <button type="button" class="secondary" onClick={() => setVersion((v) => v + 1)}>
        Refresh
      </button>
      <Loading s={s}>
        {() => (
          <DlqTable
            items={s.data!.items}
            actions={(q) => (
              <>
                <button
                  type="button"
                  class="secondary"
                  disabled={q.depth === 0}
                  onClick={() =>
                    api(`/v1/ops/dead-letters/${q.name}`).then(setPeek, (e: Error) =>
                      announce(e.message, true),
                    )
                  }
                >
                  View messages<span class="skip"> of {q.name}</span>
                </button>{' '}
                <button
                  type="button"
                  disabled={q.depth === 0 || !q.redrivable}
                  onClick={() => redrive(q)}
                  aria-label={`Redrive ${q.name}`}
                >
                  Redrive
                </button>
              </>
            )}
          />
        )}
      </Loading>
      {peek && (
        <>
          <h3>Messages of {peek.name}</h3>
          {peek.messages.map((m: Json) => (
            <pre key={m.id}>
              {fmt(m.sentAt)} {m.body}
            </pre>
          ))}
        </>
      )}
    </>
  );
}

function Billing() {
  const [version, setVersion] = useState(0);
  const [runId, setRunId] = useState<string>();
  const runs = useApi('/v1/ops/billing-runs?limit=10', version);
  const run = useApi(runId ? `/v1/ops/billing-runs/${runId}` : undefined, version);
  const [summaryQuery, setSummaryQuery] = useState<string>();
  const summary = useApi(summaryQuery, 0);
  const start = () =>
    openAsk({
      title: 'Start a billing run',
      text: 'Every unbilled usage delta is submitted to its biller (Zuora usage import or AppDirect) now. Groups already billed are not billed again.',
      confirm: 'Start billing run',
      run: async () => {
        const r = await api('/v1/ops/billing-runs', { method: 'POST' });
        setRunId(r.id);
        setVersion((v) => v + 1);
        return `Billing run ${r.id} is ${r.status}.`;
      },
    });
  return (
    <>
      <h2>Usage &amp; billing</h2>
      <p>
        <button type="button" onClick={start}>
          Start billing run
        </button>{' '}
        <button type="button" class="secondary" onClick={() => setVersion((v) => v + 1)}>
          Refresh
        </button>
      </p>
      <h3>Billing runs</h3>
      <Loading s={runs}>
        {() => (
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Trigger</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Billed / failed / pending</th>
              </tr>
            </thead>
            <tbody>
              {runs.data!.items.map((r: Json) => (
                <tr key={r.id}>
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      onClick={() => setRunId(r.id)}
                      aria-label={`Show run ${r.id}`}
                    >
                      {r.id}
                    </button>
                  </td>
                  <td>{r.requestedBy ?? r.trigger}</td>
                  <td>
                    <Status value={r.status} />
                  </td>
                  <td>{fmt(r.startedAt ?? r.createdAt)}</td>
                  <td>{r.stats ? `${r.stats.billed} / ${r.stats.failed} / ${r.stats.pending}` : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loading>
      {runId && (
        <Loading s={run}>
          {() => (
            <>
              <h3>
                Run {run.data!.id} <Status value={run.data!.status} />
              </h3>
              {run.data!.subscriptions.length === 0 ? (
                <p class="muted">
                  No subscription was billed by this run{run.data!.status === 'queued' ? ' yet' : ''}.
                </p>
              ) : (
                <table>
                  <caption class="muted">Outcome per subscription</caption>
                  <thead>
                    <tr>
                      <th scope="col">Subscription</th>
                      <th scope="col">Tenant</th>
                      <th scope="col">Biller</th>
                      <th scope="col">Lines</th>
                      <th scope="col">Outcome</th>
                    </tr>
                  </thead>
                  <tbody>
                    {run.data!.subscriptions.map((s: Json) => (
                      <tr key={`${s.tenant}-${s.subscriptionNumber}`}>
                        <td>{s.subscriptionNumber}</td>
                        <td>{s.tenant}</td>
                        <td>{s.biller}</td>
                        <td>
                          {s.lines
                            .map((l: Json) => `${l.quantity} ${l.unit} (${l.chargeNumber}, ${l.period})`)
                            .join('; ')}
                        </td>
                        <td>
                          <Status value={s.outcome} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              {run.data!.failures.length > 0 && (
                <ul>
                  {run.data!.failures.map((f: Json) => (
                    <li key={f.submissionId}>
                      {f.biller}: {f.reason}
                    </li>
                  ))}
                </ul>
              )}
            </>
          )}
        </Loading>
      )}
      <h3>Usage summary</h3>
      <form
        class="filters"
        aria-label="Usage summary"
        onSubmit={(e) => {
          e.preventDefault();
          setSummaryQuery(
            `/v1/ops/usage/summary?${new URLSearchParams([...new FormData(e.currentTarget)].map(([k, v]) => [k, String(v)]))}`,
          );
        }}
      >
        <label>
          Tenant
          <input name="tenant" required size={10} />
        </label>
        <label>
          Subscription
          <input name="subscriptionNumber" required />
        </label>
        <label>
          Month
          <input name="period" required placeholder="YYYY-MM" pattern="\d{4}-\d{2}" />
        </label>
        <button type="submit">Show usage</button>
      </form>
      {summaryQuery && (
        <Loading s={summary}>
          {() => (
            <table>
              <thead>
                <tr>
                  <th scope="col">Charge</th>
                  <th scope="col">Unit</th>
                  <th scope="col">Records</th>
                  <th scope="col">Total</th>
                  <th scope="col">Billed</th>
                  <th scope="col">Pending</th>
                </tr>
              </thead>
              <tbody>
                {summary.data!.charges.map((c: Json) => (
                  <tr key={`${c.chargeNumber}-${c.unit}`}>
                    <td>{c.chargeNumber}</td>
                    <td>{c.unit}</td>
                    <td>{c.records}</td>
                    <td>{c.total}</td>
                    <td>{c.billed}</td>
                    <td>{c.pending}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Loading>
      )}
    </>
  );
}

function Marketplace() {
  const [status, setStatus] = useState('FAILED');
  const [cursor, setCursor] = useState<string>();
  const s = useApi(
    `/v1/ops/channels/saashop/events?status=${status}&limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
  );
  return (
    <>
      <h2>Marketplace events</h2>
      <p class="muted">
        SaaShop events that did not become orders. SaaShop was told ProvisioningFailed with the reason; the
        buyer's raw data stays in the table.
      </p>
      <label style={{ width: '12rem' }}>
        Status
        <select
          value={status}
          onChange={(e) => {
            setCursor(undefined);
            setStatus(e.currentTarget.value);
          }}
        >
          <option value="FAILED">Failed</option>
          <option value="UNSUPPORTED">Unsupported</option>
          <option value="PENDING">Pending</option>
        </select>
      </label>
      <Loading s={s}>
        {() => (
          <>
            <table>
              <thead>
                <tr>
                  <th scope="col">Updated</th>
                  <th scope="col">Event</th>
                  <th scope="col">SaaShop order</th>
                  <th scope="col">Code</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Attempts</th>
                </tr>
              </thead>
              <tbody>
                {s.data!.items.length === 0 && (
                  <tr>
                    <td colSpan={6} class="muted">
                      No {status.toLowerCase()} events.
                    </td>
                  </tr>
                )}
                {s.data!.items.map((e: Json) => (
                  <tr key={e.eventId}>
                    <td>{fmt(e.updatedAt)}</td>
                    <td>
                      {e.eventTypeCode ?? '—'} <span class="muted">{e.eventId}</span>
                    </td>
                    <td>
                      {e.hubOrderId ? (
                        <a href={`#/orders/${e.hubOrderId}`}>{e.saashopOrderId}</a>
                      ) : (
                        (e.saashopOrderId ?? '—')
                      )}
                    </td>
                    <td>{e.code ?? '—'}</td>
                    <td>{e.reason ?? e.lastError ?? '—'}</td>
                    <td>{e.attempts}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager
              cursor={s.data!.cursor}
              atStart={!cursor}
              onNext={() => setCursor(s.data!.cursor)}
              onFirst={() => setCursor(undefined)}
            />
          </>
        )}
      </Loading>
    </>
  );
}

function Audit() {
  const [cursor, setCursor] = useState<string>();
  const s = useApi(`/v1/ops/audit?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  return (
    <>
      <h2>Audit trail</h2>
      <Loading s={s}>
        {() => (
          <>
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">Target</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {s.data!.items.map((a: Json) => (
                  <tr key={a.id}>
                    <td>{fmt(a.at)}</td>
                    <td>{a.actor}</td>
                    <td>{a.action}</td>
                    <td>
                      {Object.values(a.target).join(' ')}{' '}
                      {a.reason && <span class="muted">“{a.reason}”</span>}
                    </td>
                    <td>
                      {a.outcome} {a.status}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager
              cursor={s.data!.cursor}
              atStart={!cursor}
              onNext={() => setCursor(s.data!.cursor)}
              onFirst={() => setCursor(undefined)}
            />
          </>
        )}
      </Loading>
    </>
  );
}

// ---- shell ------------------------------------------------------------------------------------

const PAGES = [
  ['dashboard', 'Dashboard'],
  ['orders', 'Orders'],
  ['review', 'Review queue'],
  ['webhooks', 'Webhooks'],
  ['dead-letters', 'Dead letters'],
  ['marketplace', 'Marketplace events'],
  ['billing', 'Usage & billing'],
  ['audit', 'Audit'],
] as const;

function Shell({ who, onSignOut }: { who: Json; onSignOut: () => void }) {
  const route = useRoute();
  const [path = '', search = ''] = route.split('?');
  const [, section = 'dashboard', id] = path.split('/');
  const mainRef = useRef<HTMLElement>(null);
  useEffect(() => {
    const title = PAGES.find(([k]) => k === section)?.[1] ?? 'Order';
    document.title = `${id ? `Order ${id}` : title} · Switchboard operations`;
    mainRef.current?.focus();
  }, [section, id]);
  let page: ComponentChildren;
  if (section === 'orders' && id) page = <OrderDetail id={decodeURIComponent(id)} />;
  else if (section === 'orders') page = <Orders key={search} query={new URLSearchParams(search)} />;
  else if (section === 'review') page = <Review />;
  else if (section === 'webhooks') page = <Webhooks />;
  else if (section === 'dead-letters') page = <DeadLetters />;
  else if (section === 'billing') page = <Billing />;
  else if (section === 'marketplace') page = <Marketplace />;
  else if (section === 'audit') page = <Audit />;
  else page = <Dashboard />;
  return (
    <>
      <button type="button" class="skip" onClick={() => mainRef.current?.focus()}>
        Skip to content
      </button>
      <header>
        <h1>Switchboard operations</h1>
        <span class="who">
          Signed in as <strong>{who.actor}</strong>{' '}
          <button type="button" class="secondary" onClick={onSignOut}>
            Sign out
          </button>
        </span>
      </header>
      <nav aria-label="Sections">
        <ul>
          {PAGES.map(([k, label]) => (
            <li key={k}>
              <a href={`#/${k}`} aria-current={section === k ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Announcer key={route} />
        {page}
      </main>
      <Confirm />
    </>
  );
}

function App() {
  const [state, setState] = useState<{ who?: Json; error?: string; ready: boolean }>({ ready: false });
  const start = useCallback(async () => {
    try {
      config = (await (await fetch('./config.json')).json()) as Config;
      session = await resumeSession(config.apiUrl);
      if (!session) return setState({ ready: true });
      setState({ ready: true, who: await api('/v1/ops/me') });
    } catch (e) {
      setState({ ready: true, error: (e as Error).message });
    }
  }, []);
  useEffect(() => {
    void start();
  }, [start]);
  if (!state.ready) return <p class="center">Loading…</p>;
  if (state.who)
    return (
      <Shell
        who={state.who}
        onSignOut={async () => {
          await signOut(config.apiUrl);
          session = undefined;
          setState({ ready: true });
        }}
      />
    );
  return (
    <main class="center">
      <div>
        <h1>Switchboard operations</h1>
        {state.error && (
          <p class="notice error" role="alert">
            {state.error}
          </p>
        )}
        <p>Operators sign in with the hub's own sign-in page.</p>
        <button type="button" onClick={() => void signIn(config.apiUrl)}>
          Sign in
        </button>
      </div>
    </main>
  );
}

render(<App />, document.getElementById('app')!);

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { errorText, useTRPC } from '../trpc';
import type { Delivery, DeliveryFilter, Endpoint, Me } from '../types';
import { Badge, CopyButton, Empty, ErrorNote, when } from '../ui';
import { UpgradeNotice } from './RestTab';

const EVENTS = [
  { id: 'lead_qualified', label: 'Lead qualified' },
  { id: 'lead_booked', label: 'Lead booked' },
] as const;
type EventId = (typeof EVENTS)[number]['id'];

export function WebhooksTab({ me }: { me: Me }) {
  if (!me.features.webhooks) return <UpgradeNotice feature="Webhooks" plan="Enterprise" />;
  return (
    <>
      <Endpoints />
      <Deliveries />
    </>
  );
}

function useRefreshWebhooks() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: trpc.dashboard.endpoints.list.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.dashboard.deliveries.list.queryKey() });
  };
}

function EventChoice({ idPrefix, value, onChange }: { idPrefix: string; value: EventId[]; onChange: (v: EventId[]) => void }) {
  return (
    <fieldset className="events">
      <legend>Events</legend>
      {EVENTS.map((ev) => (
        <label key={ev.id} className="check" htmlFor={`${idPrefix}-${ev.id}`}>
          <input
            id={`${idPrefix}-${ev.id}`}
            type="checkbox"
            checked={value.includes(ev.id)}
            onChange={(e) => onChange(e.target.checked ? [...value, ev.id] : value.filter((x) => x !== ev.id))}
          />
          {ev.label} <code className="mono small">{ev.id}</code>
        </label>
      ))}
    </fieldset>
  );
}

function Endpoints() {
  const trpc = useTRPC();
  const refresh = useRefreshWebhooks();
  const endpoints = useQuery(trpc.dashboard.endpoints.list.queryOptions({ limit: 100 }));
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<EventId[]>(['lead_qualified', 'lead_booked']);
  const [secret, setSecret] = useState<{ url: string; secret: string; rotated: boolean } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const create = useMutation(
    trpc.dashboard.endpoints.create.mutationOptions({
      onSuccess: (ep) => {
        setSecret({ url: ep.url, secret: ep.secret, rotated: false });
        setUrl('');
        refresh();
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!url.trim()) return setProblem('Enter the https URL that should receive events.');
    if (events.length === 0) return setProblem('Choose at least one event.');
    setProblem(null);
    create.mutate({ url: url.trim(), events });
  };
  return (
    <div className="card">
      <h2>Endpoints</h2>
      <p className="muted">Ormiar sends each event as a signed POST (Standard Webhooks) to every enabled endpoint that subscribes to it, and retries failed deliveries on a schedule.</p>
      <form className="stack-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="endpoint-url">Endpoint URL</label>
          <input id="endpoint-url" type="url" inputMode="url" placeholder="https://example.com/webhooks/ormiar" value={url} onChange={(e) => setUrl(e.target.value)} />
        </div>
        <EventChoice idPrefix="new" value={events} onChange={setEvents} />
        <ErrorNote error={problem ?? (create.error ? errorText(create.error) : null)} />
        <div>
          <button type="submit" className="btn btn-primary" disabled={create.isPending}>
            {create.isPending ? 'Adding…' : 'Add endpoint'}
          </button>
        </div>
      </form>
      {secret ? (
        <div className="secret" role="region" aria-labelledby="secret-title">
          <p id="secret-title" className="note-title">
            {secret.rotated ? 'New signing secret' : 'Signing secret'} for {secret.url}
          </p>
          <p className="small">Shown only this once. Verify every delivery with it{secret.rotated ? '; the old secret keeps working for 24 hours' : ''}.</p>
          <div className="copy-row">
            <input className="mono" aria-label="Signing secret" readOnly value={secret.secret} onFocus={(e) => e.currentTarget.select()} />
            <CopyButton text={secret.secret} label="Copy secret" />
          </div>
          <button type="button" className="btn btn-secondary btn-small" onClick={() => setSecret(null)}>
            I have stored it
          </button>
        </div>
      ) : null}
      {endpoints.error ? <ErrorNote error={errorText(endpoints.error)} /> : null}
      {endpoints.isPending ? (
        <p role="status" className="muted">
          Loading endpoints…
        </p>
      ) : endpoints.data?.data.length ? (
        <ul className="endpoint-list">
          {endpoints.data.data.map((ep) => (
            <EndpointItem key={ep.id} ep={ep} onSecret={(s) => setSecret({ url: ep.url, secret: s, rotated: true })} />
          ))}
        </ul>
      ) : (
        <Empty title="No endpoints yet">Add the URL of your server above to receive lead events.</Empty>
      )}
    </div>
  );
}

function EndpointItem({ ep, onSecret }: { ep: Endpoint; onSecret: (secret: string) => void }) {
  const trpc = useTRPC();
  const refresh = useRefreshWebhooks();
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [url, setUrl] = useState(ep.url);
  const [events, setEvents] = useState<EventId[]>(ep.events);
  const [notice, setNotice] = useState<string | null>(null);
  const opts = { onSuccess: () => refresh() };
  const update = useMutation(trpc.dashboard.endpoints.update.mutationOptions({ ...opts, onSuccess: () => (refresh(), setEditing(false)) }));
  const remove = useMutation(trpc.dashboard.endpoints.delete.mutationOptions(opts));
  const rotate = useMutation(trpc.dashboard.endpoints.rotateSecret.mutationOptions({ onSuccess: (r) => onSecret(r.secret) }));
  const test = useMutation(trpc.dashboard.endpoints.test.mutationOptions({ onSuccess: () => (refresh(), setNotice('Test event sent. It appears under Deliveries below.')) }));
  const error = [update, remove, rotate, test].map((m) => m.error).find(Boolean);
  const titleId = `ep-${ep.id}`;
  return (
    <li className="endpoint" aria-labelledby={titleId}>
      <div className="endpoint-head">
        <p id={titleId} className="endpoint-url mono">
          {ep.url}
        </p>
        {ep.enabled ? <Badge tone="ok">Enabled</Badge> : <Badge tone="warn">{ep.disabled_reason ? `Disabled: ${ep.disabled_reason === 'endpoint_gone' ? 'answered 410 Gone' : 'failing for 5 days'}` : 'Disabled'}</Badge>}
      </div>
      <p className="small muted">
        Events: {ep.events.join(', ')} · added {when(ep.created_at)}
      </p>
      {editing ? (
        <form
          className="stack-form"
          onSubmit={(e) => {
            e.preventDefault();
            update.mutate({ endpoint_id: ep.id, url: url.trim(), events });
          }}
        >
          <div className="field">
            <label htmlFor={`edit-url-${ep.id}`}>URL</label>
            <input id={`edit-url-${ep.id}`} type="url" value={url} onChange={(e) => setUrl(e.target.value)} />
          </div>
          <EventChoice idPrefix={`edit-${ep.id}`} value={events} onChange={setEvents} />
          <div className="button-row">
            <button type="submit" className="btn btn-primary btn-small" disabled={update.isPending || events.length === 0}>
              Save
            </button>
            <button type="button" className="btn btn-secondary btn-small" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div className="button-row">
          <button type="button" className="btn btn-secondary btn-small" aria-describedby={titleId} onClick={() => test.mutate({ endpoint_id: ep.id })} disabled={test.isPending || !ep.enabled}>
            Send test event
          </button>
          <button type="button" className="btn btn-secondary btn-small" aria-describedby={titleId} onClick={() => setEditing(true)}>
            Edit
          </button>
          <button type="button" className="btn btn-secondary btn-small" aria-describedby={titleId} onClick={() => update.mutate({ endpoint_id: ep.id, enabled: !ep.enabled })}>
            {ep.enabled ? 'Disable' : 'Enable'}
          </button>
          <button type="button" className="btn btn-secondary btn-small" aria-describedby={titleId} onClick={() => rotate.mutate({ endpoint_id: ep.id })} disabled={rotate.isPending}>
            Rotate secret
          </button>
          {confirmDelete ? (
            <span className="confirm">
              <button type="button" className="btn btn-danger btn-small" onClick={() => remove.mutate({ endpoint_id: ep.id })} autoFocus>
                Delete endpoint
              </button>
              <button type="button" className="btn btn-secondary btn-small" onClick={() => setConfirmDelete(false)}>
                Cancel
              </button>
            </span>
          ) : (
            <button type="button" className="btn btn-danger-quiet btn-small" aria-describedby={titleId} onClick={() => setConfirmDelete(true)}>
              Delete
            </button>
          )}
        </div>
      )}
      {notice && !error ? (
        <p className="note note-ok small" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorNote error={error ? errorText(error) : null} />
    </li>
  );
}

const STATUS_TONE = { succeeded: 'ok', pending: 'warn', failed: 'bad' } as const;

function Deliveries() {
  const trpc = useTRPC();
  const [filter, setFilter] = useState<DeliveryFilter>({ limit: 50 });
  const endpoints = useQuery(trpc.dashboard.endpoints.list.queryOptions({ limit: 100 }));
  // Pending deliveries change on their own: refresh while the tab is open.
  const deliveries = useQuery({ ...trpc.dashboard.deliveries.list.queryOptions(filter), refetchInterval: 2_000 });
  return (
    <div className="card">
      <h2>Deliveries</h2>
      <div className="filters">
        <div className="field">
          <label htmlFor="filter-endpoint">Endpoint</label>
          <select id="filter-endpoint" value={filter.endpoint_id ?? ''} onChange={(e) => setFilter({ ...filter, endpoint_id: e.target.value || undefined })}>
            <option value="">All endpoints</option>
            {endpoints.data?.data.map((ep) => (
              <option key={ep.id} value={ep.id}>
                {ep.url}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={filter.status ?? ''} onChange={(e) => setFilter({ ...filter, status: (e.target.value || undefined) as DeliveryFilter['status'] })}>
            <option value="">Any status</option>
            <option value="pending">Pending</option>
            <option value="succeeded">Succeeded</option>
            <option value="failed">Failed</option>
          </select>
        </div>
      </div>
      {deliveries.error ? <ErrorNote error={errorText(deliveries.error)} /> : null}
      {deliveries.isPending ? (
        <p role="status" className="muted">
          Loading deliveries…
        </p>
      ) : deliveries.data?.data.length ? (
        <ul className="delivery-list" aria-label="Deliveries">
          {deliveries.data.data.map((d) => (
            <DeliveryItem key={d.id} d={d} url={endpoints.data?.data.find((ep) => ep.id === d.endpoint_id)?.url ?? d.endpoint_id} />
          ))}
        </ul>
      ) : (
        <Empty title="No deliveries yet">Send a test event to an endpoint to see one here.</Empty>
      )}
    </div>
  );
}

function DeliveryItem({ d, url }: { d: Delivery; url: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const detail = useQuery({ ...trpc.dashboard.deliveries.get.queryOptions({ delivery_id: d.id }), enabled: open, refetchInterval: open ? 2_000 : false });
  const retry = useMutation(
    trpc.dashboard.deliveries.retry.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.dashboard.deliveries.list.queryKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.dashboard.deliveries.get.queryKey({ delivery_id: d.id }) });
      },
    }),
  );
  const label = `delivery-${d.id}`;
  const httpStatus = d.last_status_code === null ? (d.last_error ? 'no answer' : '—') : `HTTP ${d.last_status_code}`;
  return (
    <li className="delivery" aria-labelledby={label} data-delivery-id={d.id} data-status={d.status}>
      <div className="delivery-row">
        <span id={label} className="delivery-event">
          <code className="mono">{d.event}</code> <span className="muted small">to {url}</span>
        </span>
        <Badge tone={STATUS_TONE[d.status]}>{d.status[0]?.toUpperCase() + d.status.slice(1)}</Badge>
        <span className="small" data-field="http-status">
          {httpStatus}
        </span>
        <span className="small muted">
          {d.attempts} {d.attempts === 1 ? 'attempt' : 'attempts'}
          {d.next_attempt_at && d.status === 'pending' ? ` · next ${when(d.next_attempt_at)}` : ''}
        </span>
        <span className="button-row">
          <button type="button" className="btn btn-secondary btn-small" aria-expanded={open} aria-controls={`${label}-log`} aria-describedby={label} onClick={() => setOpen(!open)}>
            {open ? 'Hide attempts' : 'Attempts'}
          </button>
          <button type="button" className="btn btn-secondary btn-small" aria-describedby={label} onClick={() => retry.mutate({ delivery_id: d.id })} disabled={retry.isPending || d.status === 'pending'}>
            Retry
          </button>
        </span>
      </div>
      {d.last_error && d.last_error !== httpStatus ? <p className="small error-text">{d.last_error}</p> : null}
      <ErrorNote error={retry.error ? errorText(retry.error) : null} />
      {open ? (
        <div id={`${label}-log`} className="attempt-log">
          {detail.isPending ? (
            <p className="muted small">Loading attempts…</p>
          ) : detail.error ? (
            <ErrorNote error={errorText(detail.error)} />
          ) : detail.data.attempt_log.length === 0 ? (
            <p className="muted small">No attempt yet.</p>
          ) : (
            <table>
              <caption className="visually-hidden">Attempts</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">HTTP status</th>
                  <th scope="col">Time</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {detail.data.attempt_log.map((a, i) => (
                  <tr key={i}>
                    <td data-label="When">{when(a.at)}</td>
                    <td data-label="HTTP status">{a.status_code ?? '—'}</td>
                    <td data-label="Time">{a.latency_ms} ms</td>
                    <td data-label="Error">{a.error ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ) : null}
    </li>
  );
}

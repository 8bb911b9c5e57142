import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { errorText, useTRPC } from '../trpc';
import type { ApiKey, Me } from '../types';
import { Badge, CopyButton, Empty, ErrorNote, when } from '../ui';

export function UpgradeNotice({ feature, plan }: { feature: string; plan: string }) {
  return (
    <div className="note note-upgrade" role="note">
      <p className="note-title">{feature} is not included in your plan</p>
      <p>
        Upgrade to the {plan} plan to use it. Contact your Ormiar account manager to change plans; the change takes effect at once.
      </p>
    </div>
  );
}

export function RestTab({ me }: { me: Me }) {
  return (
    <>
      {me.features.rest ? null : <UpgradeNotice feature="The REST API" plan="Business or Enterprise" />}
      <div className="card">
        <h2>Base URL</h2>
        <p className="muted">Every request goes to this address, with your API key as a Bearer token.</p>
        <div className="copy-row">
          <code id="base-url" className="mono">
            {me.base_url}/v1
          </code>
          <CopyButton text={`${me.base_url}/v1`} label="Copy base URL" />
        </div>
        <p className="small muted">
          Reference: <a href="/docs">API documentation</a>
        </p>
      </div>
      {me.features.rest ? <Keys me={me} /> : null}
    </>
  );
}

function Keys({ me }: { me: Me }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const keys = useQuery(trpc.dashboard.keys.list.queryOptions());
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ token: string; name: string | null } | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.dashboard.keys.list.queryKey() });
  const create = useMutation(
    trpc.dashboard.keys.create.mutationOptions({
      onSuccess: (key) => {
        setCreated({ token: key.token, name: key.name });
        setName('');
        void refresh();
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(name.trim() ? { name: name.trim() } : {});
  };
  const active = keys.data?.data.filter((k) => k.revoked_at === null) ?? [];
  const revoked = keys.data?.data.filter((k) => k.revoked_at !== null) ?? [];
  const curl = created ? `curl -H "Authorization: Bearer ${created.token}" ${me.base_url}/v1/stats` : '';
  return (
    <div className="card">
      <div className="card-head">
        <h2>API keys</h2>
      </div>
      <p className="muted">A key acts for {me.client.name}. Anyone holding it can read and change your leads: keep it on your server, never in a browser or an app.</p>
      <form className="inline-form" onSubmit={submit}>
        <div className="field grow">
          <label htmlFor="key-name">Key name (optional)</label>
          <input id="key-name" value={name} maxLength={100} placeholder="e.g. CRM sync" onChange={(e) => setName(e.target.value)} />
        </div>
        <button type="submit" className="btn btn-primary" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create API key'}
        </button>
      </form>
      <ErrorNote error={create.error ? errorText(create.error) : null} />
      {created ? (
        <div className="secret" role="region" aria-labelledby="new-key-title">
          <p id="new-key-title" className="note-title">
            Your new API key{created.name ? ` “${created.name}”` : ''}
          </p>
          <p className="small">Copy it now: it is shown only this once. If you lose it, create another and revoke this one.</p>
          <div className="copy-row">
            <input className="mono" aria-label="New API key" readOnly value={created.token} onFocus={(e) => e.currentTarget.select()} />
            <CopyButton text={created.token} label="Copy key" />
          </div>
          <p className="small">Try it:</p>
          <div className="copy-row">
            {/* Focusable: the line scrolls sideways, and keyboard users must be able to scroll it. */}
            <pre className="mono code-block" tabIndex={0} role="region" aria-label="Example request">
              {curl}
            </pre>
            <CopyButton text={curl} label="Copy curl" />
          </div>
          <button type="button" className="btn btn-secondary btn-small" onClick={() => setCreated(null)}>
            I have stored it
          </button>
        </div>
      ) : null}
      {keys.error ? <ErrorNote error={errorText(keys.error)} /> : null}
      {keys.isPending ? (
        <p role="status" className="muted">
          Loading keys…
        </p>
      ) : active.length === 0 && revoked.length === 0 ? (
        <Empty title="No API keys yet">Create one to start calling the REST API.</Empty>
      ) : (
        <KeyTable keys={[...active, ...revoked]} onChanged={refresh} />
      )}
    </div>
  );
}

function KeyTable({ keys, onChanged }: { keys: ApiKey[]; onChanged: () => void }) {
  const trpc = useTRPC();
  const [confirming, setConfirming] = useState<string | null>(null);
  const revoke = useMutation(trpc.dashboard.keys.revoke.mutationOptions({ onSuccess: () => onChanged(), onSettled: () => setConfirming(null) }));
  return (
    <>
      <ErrorNote error={revoke.error ? errorText(revoke.error) : null} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Status and actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} className={k.revoked_at ? 'row-muted' : undefined}>
                <td data-label="Name">{k.name ?? <span className="muted">Unnamed</span>}</td>
                <td data-label="Key">
                  <code className="mono" id={`key-${k.id}`}>
                    {k.preview}
                  </code>
                </td>
                <td data-label="Created">{when(k.created_at)}</td>
                <td data-label="Last used">{when(k.last_used_at)}</td>
                <td className="actions">
                  {k.revoked_at ? (
                    <Badge tone="neutral">Revoked {when(k.revoked_at)}</Badge>
                  ) : confirming === k.id ? (
                    <span className="confirm">
                      <span className="small">Requests with this key will fail.</span>
                      <button type="button" className="btn btn-danger btn-small" onClick={() => revoke.mutate({ key_id: k.id })} disabled={revoke.isPending} autoFocus>
                        Revoke key
                      </button>
                      <button type="button" className="btn btn-secondary btn-small" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" className="btn btn-secondary btn-small" aria-describedby={`key-${k.id}`} onClick={() => setConfirming(k.id)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

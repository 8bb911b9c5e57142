import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, type KeyboardEvent } from 'react';
import { navigate } from '../router';
import { useTRPC } from '../trpc';
import type { Me } from '../types';
import { Badge } from '../ui';
import { RestTab } from './RestTab';
import { WebhooksTab } from './WebhooksTab';

const TABS = [
  { id: 'rest', label: 'REST API', path: '/dashboard/integrations' },
  { id: 'webhooks', label: 'Webhooks', path: '/dashboard/integrations/webhooks' },
] as const;

const PLAN_NAMES = { starter: 'Starter', business: 'Business', enterprise: 'Enterprise' } as const;

export function Integrations({ me, tab }: { me: Me; tab: 'rest' | 'webhooks' }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);
  const signOut = useMutation(
    trpc.dashboard.auth.signOut.mutationOptions({
      onSettled: () => {
        queryClient.clear();
        navigate('/dashboard/login', { replace: true });
      },
    }),
  );
  // Arrow keys move between tabs (WAI-ARIA tabs pattern).
  const onTabKey = (e: KeyboardEvent, index: number) => {
    const delta = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!delta) return;
    e.preventDefault();
    const next = (index + delta + TABS.length) % TABS.length;
    const target = TABS[next];
    if (target) navigate(target.path);
    tabRefs.current[next]?.focus();
  };
  return (
    <div className="shell">
      <header className="topbar">
        <div className="topbar-inner">
          <p className="brand">
            <span className="brand-mark" aria-hidden="true">O</span> Ormiar
          </p>
          <div className="account">
            <span className="account-client">
              {me.client.name} <Badge tone="neutral">{PLAN_NAMES[me.client.plan]}</Badge>
            </span>
            <span className="account-email muted">{me.user.email}</span>
            <button type="button" className="btn btn-secondary btn-small" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main className="content">
        <nav aria-label="Breadcrumb" className="crumbs muted small">
          Dashboard <span aria-hidden="true">›</span> Integrations
        </nav>
        <h1>Integrations</h1>
        <p className="muted lead">Connect your systems to Ormiar: call the REST API with a key, or receive events on your webhook endpoints.</p>
        <div role="tablist" aria-label="Integrations" className="tabs">
          {TABS.map((t, i) => (
            <button
              key={t.id}
              ref={(el) => {
                tabRefs.current[i] = el;
              }}
              role="tab"
              id={`tab-${t.id}`}
              type="button"
              aria-selected={tab === t.id}
              aria-controls={`panel-${t.id}`}
              tabIndex={tab === t.id ? 0 : -1}
              className="tab"
              onClick={() => navigate(t.path)}
              onKeyDown={(e) => onTabKey(e, i)}
            >
              {t.label}
            </button>
          ))}
        </div>
        <section role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="panel">
          {tab === 'rest' ? <RestTab me={me} /> : <WebhooksTab me={me} />}
        </section>
      </main>
    </div>
  );
}

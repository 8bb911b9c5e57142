// The dashboard page: sign-in, the one-time link and Integrations (API.md §7).
import { QueryClientProvider, useQuery } from '@tanstack/react-query';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Integrations } from './pages/Integrations';
import { Login } from './pages/Login';
import { SetPassword } from './pages/SetPassword';
import { navigate, usePath } from './router';
import { makeQueryClient, TRPCProvider, trpcClient, useTRPC, isUnauthorized, errorText } from './trpc';
import './styles.css';

const queryClient = makeQueryClient(() => {
  queryClient.clear();
  navigate('/dashboard/login', { replace: true });
});

function Signed() {
  const trpc = useTRPC();
  const me = useQuery(trpc.dashboard.auth.me.queryOptions());
  const path = usePath();
  useEffect(() => {
    if (me.error && isUnauthorized(me.error)) navigate('/dashboard/login', { replace: true });
  }, [me.error]);
  if (me.isPending) return <p className="loading" role="status">Loading…</p>;
  if (me.error) return isUnauthorized(me.error) ? null : <main className="center"><p role="alert" className="note note-error">{errorText(me.error)}</p></main>;
  return <Integrations me={me.data} tab={path.endsWith('/webhooks') ? 'webhooks' : 'rest'} />;
}

function App() {
  const path = usePath();
  useEffect(() => {
    if (path === '/dashboard' || path === '/dashboard/') navigate('/dashboard/integrations', { replace: true });
  }, [path]);
  if (path === '/dashboard/login') return <Login />;
  if (path === '/dashboard/set-password') return <SetPassword />;
  return <Signed />;
}

function Root() {
  const [client] = useState(() => trpcClient);
  return (
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <TRPCProvider trpcClient={client} queryClient={queryClient}>
          <App />
        </TRPCProvider>
      </QueryClientProvider>
    </StrictMode>
  );
}

const root = document.getElementById('root');
if (root) createRoot(root).render(<Root />);

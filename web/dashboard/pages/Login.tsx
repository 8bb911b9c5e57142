import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { navigate } from '../router';
import { errorText, useTRPC } from '../trpc';
import { ErrorNote } from '../ui';

export function Login() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useMutation(
    trpc.dashboard.auth.signIn.mutationOptions({
      onSuccess: async () => {
        queryClient.clear();
        navigate('/dashboard/integrations');
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate({ email, password });
  };
  return (
    <main className="auth">
      <div className="auth-card">
        <p className="brand" aria-hidden="true">
          <span className="brand-mark">O</span> Ormiar
        </p>
        <h1>Sign in to your dashboard</h1>
        <form onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor="email">Email</label>
            <input id="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
          </div>
          <div className="field">
            <label htmlFor="password">Password</label>
            <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </div>
          <ErrorNote error={signIn.error ? errorText(signIn.error) : null} />
          <button type="submit" className="btn btn-primary btn-block" disabled={signIn.isPending}>
            {signIn.isPending ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="muted small">No account or forgot your password? Ask your Ormiar administrator for a one-time link.</p>
      </div>
    </main>
  );
}

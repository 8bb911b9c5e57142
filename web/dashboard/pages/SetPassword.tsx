import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { navigate } from '../router';
import { errorText, useTRPC } from '../trpc';
import { ErrorNote } from '../ui';

const MIN = 12;

// The one-time link carries its token in the fragment (#token=…): it never reaches a server log.
const tokenOf = () => new URLSearchParams(location.hash.slice(1)).get('token') ?? '';

export function SetPassword() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [token] = useState(tokenOf);
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const set = useMutation(
    trpc.dashboard.auth.setPassword.mutationOptions({
      onSuccess: () => {
        history.replaceState(null, '', location.pathname);
        queryClient.clear();
        navigate('/dashboard/integrations');
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (password.length < MIN) return setProblem(`Use at least ${MIN} characters.`);
    if (password !== confirm) return setProblem('The two passwords differ.');
    setProblem(null);
    set.mutate({ token, password });
  };
  return (
    <main className="auth">
      <div className="auth-card">
        <p className="brand" aria-hidden="true">
          <span className="brand-mark">O</span> Ormiar
        </p>
        <h1>Set your password</h1>
        {token ? (
          <form onSubmit={submit} noValidate>
            <div className="field">
              <label htmlFor="new-password">New password</label>
              <input id="new-password" type="password" autoComplete="new-password" aria-describedby="pw-hint" value={password} onChange={(e) => setPassword(e.target.value)} autoFocus />
              <p id="pw-hint" className="hint">
                At least {MIN} characters. A phrase of several words is easy to remember.
              </p>
            </div>
            <div className="field">
              <label htmlFor="confirm-password">Repeat the password</label>
              <input id="confirm-password" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
            </div>
            <ErrorNote error={problem ?? (set.error ? errorText(set.error) : null)} />
            <button type="submit" className="btn btn-primary btn-block" disabled={set.isPending}>
              {set.isPending ? 'Saving…' : 'Set password and sign in'}
            </button>
          </form>
        ) : (
          <p className="note note-error" role="alert">
            This link is incomplete. Open the whole link you were sent, or ask your administrator for a new one.
          </p>
        )}
      </div>
    </main>
  );
}
